"""Uploaded files (issue 9): what the file says wins and the form shows it; what it does not
say is asked before Run; a bigger file says which part is shown; after a reload the file is
named, never a hash. And the trace as NPZ."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, run_new_session, wait_t
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
CSV = "1,0,0\n0,1,0\n0,0,1\n0.5,-1,2"
XS = np.array([[float(v) for v in r.split(",")] for r in CSV.split("\n")], np.float32)


def onnx_gru(path, hidden=4, inputs=3, seed=5):
    """An ONNX GRU node with linear_before_reset = 0 (Cho 2014: reset before the matmul)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.6, (1, 3 * hidden, inputs)).astype(np.float32)
    r = rng.normal(0, 0.6, (1, 3 * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (1, 6 * hidden)).astype(np.float32)
    node = helper.make_node(
        "GRU", ["X", "W", "R", "B"], ["Y"], hidden_size=hidden, linear_before_reset=0
    )
    graph = helper.make_graph(
        [node],
        "gru",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, inputs])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for a, n in ((w, "W"), (r, "R"), (b, "B"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.save(model, path)
    return model


def upload(page, path):
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#weights-file", str(path))
    expect(page.locator("#weights-id")).to_contain_text(path.name)


def run_numbers(page, text=CSV):
    page.get_by_label("numbers").check()
    page.get_by_label("Sequence", exact=True).fill(text)
    return run_new_session(page)


def test_the_files_own_semantics_win(page, errors, api, tmp_path):
    path = tmp_path / "cho.onnx"
    model = onnx_gru(path)
    open_view(page)
    upload(page, path)
    box = page.locator("#option-reset_after")
    expect(box).not_to_be_checked()
    expect(box).to_be_disabled()
    expect(page.locator('[data-row="reset_after"] .set-by')).to_have_text("set by the file")
    sid = run_numbers(page)
    made = api("GET", f"/api/sessions/{sid}")
    assert made["options"] == {"reset_after": False}
    trace = api("GET", f"/api/sessions/{sid}/trace")["signals"]["h"]
    (y,) = ReferenceEvaluator(model).run(None, {"X": XS[:, None, :]})
    np.testing.assert_allclose(np.array(trace), y[:, 0, 0, :], atol=1e-5)


def test_what_the_file_leaves_open_is_asked_before_run(page, errors, api, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    path = tmp_path / "elman.safetensors"
    save_file(torch.nn.RNN(3, 4).state_dict(), path)
    open_view(page)
    upload(page, path)
    expect(page.locator('[data-row="nonlinearity"] .set-by')).to_contain_text("does not say")
    page.get_by_label("numbers").check()
    page.get_by_label("Sequence", exact=True).fill(CSV)
    before = diagram_state(page)["session"]
    page.get_by_role("button", name="Run").click()
    expect(page.locator('[data-error-for="cell"]')).to_contain_text("nonlinearity")
    assert diagram_state(page)["session"] == before  # asked, nothing ran
    page.locator("#option-nonlinearity").select_option("relu")
    sid = run_numbers(page)
    assert api("GET", f"/api/sessions/{sid}")["options"] == {"nonlinearity": "relu"}
    # after a reload the file is named, with its sizes, not a hash
    page.wait_for_function("sid => location.search.includes(`session=${sid}`)", arg=sid)
    page.reload()
    wait_t(page, 0)
    expect(page.locator("#weights-id")).to_contain_text("elman.safetensors")
    expect(page.locator("#weights-id")).to_contain_text("H = 4")
    expect(page.locator("#option-nonlinearity")).to_have_value("relu")


@pytest.mark.parametrize(
    ("layers", "bidirectional", "said"),
    [
        (2, False, "2 layers × 1 direction"),
        (1, True, "1 layer × 2 directions"),
    ],
)
def test_a_bigger_file_says_which_part_is_shown(
    page, errors, tmp_path, layers, bidirectional, said
):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    path = tmp_path / "big.safetensors"
    save_file(
        torch.nn.LSTM(3, 4, num_layers=layers, bidirectional=bidirectional).state_dict(), path
    )
    open_view(page)
    upload(page, path)
    expect(page.locator("#weights-part")).to_contain_text(said)
    run_numbers(page)
    notice = page.locator("#view-notice")
    expect(notice).to_contain_text(said)
    # a whole model runs whole now: the Layer and Direction pickers choose the cell drawn
    expect(notice).to_contain_text("all of it runs — pick the cell shown with Layer and Direction")
    expect(page.get_by_label("Layer", exact=True)).to_be_visible()
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", "lstm")


def test_trace_npz_is_the_trace(page, errors, api, tmp_path):
    open_view(page, "?cell=gru&weights=seed&seed=8&hidden=4&text=hello%20there")
    sid = diagram_state(page)["session"]
    with page.expect_download() as info:
        page.get_by_role("button", name="Download trace (NPZ)").click()
    path = tmp_path / "trace.npz"
    info.value.save_as(path)
    trace = api("GET", f"/api/sessions/{sid}/trace")
    with np.load(path, allow_pickle=False) as npz:
        assert list(npz["t"]) == list(range(trace["stop"]))
        for name, rows in trace["signals"].items():
            assert npz[name].dtype == np.float32
            np.testing.assert_array_equal(npz[name], np.array(rows, np.float32))


def test_a_first_row_with_a_number_is_data_not_a_header(page, errors, api):
    open_view(page, "?cell=lstm&weights=seed&seed=1&hidden=4&text=abc")
    page.get_by_label("numbers").check()
    page.get_by_label("Sequence", exact=True).fill("1,x\n3,4")
    page.get_by_role("button", name="Run").click()
    error = page.locator('[data-error-for="sequence"]')
    expect(error).to_contain_text("row 1, column 2")
    expect(error).to_contain_text("'x'")
    errors[:] = [e for e in errors if "status of 422" not in e]
