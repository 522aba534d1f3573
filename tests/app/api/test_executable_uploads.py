"""A PyTorch pickle or TorchScript archive uploaded under a name with no weights suffix
("model", "model.jit", "model.bin", as torch.save and torch.jit.save write them) is told
for what it is, from its content, with the export recipe; it is never unpickled."""

from __future__ import annotations

import io

import pytest
import torch

from tests.support import assert_error


def written(kind: str) -> bytes:
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4)
    buffer = io.BytesIO()
    if kind == "pickle":
        torch.save(module.state_dict(), buffer)
    else:
        torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "kind", "said"), [
    ("model", "pickle", "'model': PyTorch pickles are not loaded (they can run code), and "
                        "this file is one"),
    ("model.bin", "pickle", "'model.bin': PyTorch pickles are not loaded"),
    ("model.jit", "torchscript", "'model.jit': is a TorchScript archive, whose code is not run "
                                 "here"),
])
def test_pickles_and_torchscript_are_told_by_content(client, name, kind, said):
    answer = client.post("/api/weights", files={"file": (name, written(kind))})
    assert_error(answer, 422, "file", said.split(": ", 1)[1],
                 "save_file(model.state_dict(), 'model.safetensors')")


def test_other_files_without_a_weights_suffix_get_the_list_of_suffixes(client):
    answer = client.post("/api/weights", files={"file": ("notes.txt", b"hello")})
    assert_error(answer, 422, "file", "'notes.txt' is not a weights file; upload one of")
