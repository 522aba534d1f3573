"""The page says what loading a file changed: an int8 (onnxruntime dynamic quantization)
model is read as the float model, and the form's upload line says so."""

from __future__ import annotations

import warnings

import pytest
import torch
from gs_browser_helpers import open_view
from onnxruntime.quantization import QuantType, quantize_dynamic
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_upload_line_carries_the_notice(page, tmp_path):
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(5, 1, 3),), str(tmp_path / "float.onnx"),
                          dynamo=False, input_names=["xs"])
        quantize_dynamic(str(tmp_path / "float.onnx"), str(tmp_path / "int8.onnx"),
                         weight_type=QuantType.QInt8)
    open_view(page, "")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#weights-file", str(tmp_path / "int8.onnx"))
    line = page.locator("#weights-id")
    expect(line).to_contain_text("int8.onnx")
    expect(line).to_contain_text("the numbers shown are the float model's, not the int8 "
                                 "runtime's")
