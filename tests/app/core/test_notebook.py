"""app.show in a real notebook: a real kernel (nbclient, ipykernel) runs it, the cell's
output is the page in an IFrame (text/html) and the URL (str), and Chromium shows that page,
framed by a notebook-like page on another loopback origin and on its own."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from playwright.sync_api import expect, sync_playwright
from safetensors.torch import save_file

from tests.support import end_process, free_port

ROOT = Path(__file__).resolve().parents[3]
DIAGRAM = "svg[data-diagram]"


class TextModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(4, 3)
        self.lstm = torch.nn.LSTM(3, 4)
        self.fc = torch.nn.Linear(4, 4)


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as answer:
        return json.loads(answer.read())


@pytest.fixture
def notebook_run(tmp_path):
    """(the executed notebook, the server port); the server the kernel started is ended."""
    weights = tmp_path / "model.safetensors"
    save_file(TextModel().state_dict(), str(weights))
    (tmp_path / "vocab.json").write_text(json.dumps(list("abc ")))
    port = free_port()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport app"),
        nbformat.v4.new_code_cell(f"page = app.show({str(weights)!r}, 'a cab', port={port}, "
                                  f"data_dir={str(tmp_path / 'data')!r}, "
                                  f"vocabulary={str(tmp_path / 'vocab.json')!r})\npage"),
        nbformat.v4.new_code_cell("print(str(page))"),
    ]
    client = NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
        yield notebook, port
    finally:
        try:
            end_process(int(health(port)["pid"]))
        except OSError:
            pass


def test_show_displays_the_page_inline_in_a_notebook(notebook_run, tmp_path):
    notebook, port = notebook_run
    url = notebook.cells[2].outputs[0]["text"].strip()
    assert url.startswith(f"http://127.0.0.1:{port}/?session=")
    (shown,) = notebook.cells[1].outputs
    html = shown["data"]["text/html"]
    assert f'<iframe src="{url}"' in html and shown["data"]["text/plain"] == repr(url)
    session_id = url.split("=", 1)[1]
    # A notebook page on another loopback origin, holding exactly the cell's HTML output.
    (tmp_path / "notebook.html").write_text(f"<!doctype html><body>{html}</body>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path))
    notebook_server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=notebook_server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{notebook_server.server_port}/notebook.html")
            framed = page.frame_locator("iframe").locator(DIAGRAM)
            expect(framed).to_have_attribute("data-session", session_id, timeout=30_000)
            page.goto(url)  # and on its own
            page.wait_for_function(
                "id => { const s = document.querySelector('svg[data-diagram]');"
                " return s && s.getAttribute('data-session') === id }", arg=session_id,
                timeout=30_000)
            browser.close()
    finally:
        notebook_server.shutdown()
