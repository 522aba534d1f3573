"""Helpers shared by the tests: free ports, a server launcher, sessions, error checks."""

from __future__ import annotations

import contextlib
import json
import socket

import numpy as np

import cells

COUNTER_TEXT = "count (the (nested) brackets) ((ok)) done"


def create_session(client, **body) -> dict:
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def of_first_part(items: list[dict]) -> list[dict]:
    """Items (holds, weight edits) as a session records them when they name no part: with
    layer 0 and direction forward, the defaults every session writes out."""
    return [{**item, "layer": 0, "direction": "forward"} for item in items]


def upload_model(client, path, vocabulary: list[str]) -> dict:
    """POST a weights file with its vocabulary (as vocab.json) to /api/weights; the record."""
    files = {"file": (path.name, path.read_bytes()),
             "vocabulary": ("vocab.json", json.dumps(vocabulary).encode())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return response.json()


def counter_trace(text: str = COUNTER_TEXT) -> cells.Trace:
    """The counter preset run directly by the engine: what the API must reproduce."""
    preset = cells.presets.get("counter")
    return preset.cell.run(preset.encode(text))


def assert_error(response, status: int, field: str | None = None, *fragments: str) -> dict:
    """A 4xx JSON error naming `field` and containing each fragment."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str), body
    if field is not None:
        assert body["field"] == field, body
        assert body["detail"].startswith(field), body
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body


def wait_until(condition, what: str, timeout: float = 60.0):
    """Wait for an event: poll `condition()` until it is truthy and return its value. The
    timeout only ends a test whose event never comes; it measures nothing, so it is long."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
        time.sleep(0.02)


def end_process(pid: int, timeout: float = 30.0) -> None:
    """End a process the test started (a server a command left running), by its pid, and
    wait until it has exited."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.terminate()
        process.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_up(url: str) -> bool:
    """Whether a gatescope server answers at `url` (its catalogue of cells)."""
    import httpx

    try:
        return httpx.get(url + "/api/cells", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# A test server under a memory limit (ServerProcess(address_space=...)): the address space
# it may use (Python, NumPy and the formats' libraries take about 0.7 GiB of it at rest), and
# its environment — glibc's per-thread malloc arenas reserve address space, so few of them.
SERVER_ADDRESS_SPACE = 2 * 2**30
LIMITED_ENV = {"MALLOC_ARENA_MAX": "2"}


class ServerProcess:
    """`python -m app serve` in a subprocess on loopback (ended on exit): the one server
    launcher of the tests. `port`: a given port (to restart a server where a page expects
    it), else a free one. Its stderr goes to a file, shown when it fails to start."""

    def __init__(self, data_dir, *args: str, env: dict | None = None, port: int | None = None,
                 address_space: int | None = None):
        self.data_dir, self.args, self.env, self.given_port = data_dir, args, env or {}, port
        self.address_space = address_space  # bytes: the server runs under RLIMIT_AS
        self._retries = 0
        self._start()

    def _start(self) -> None:
        import os
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        self.port = self.given_port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[1]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--log-level", "warning", *self.args],
            cwd=root, env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=self._limits)

    def _limits(self) -> None:
        """In the server's process before it starts: its memory limit, if any."""
        if self.address_space is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (self.address_space, self.address_space))

    def _error(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def __enter__(self) -> ServerProcess:
        def started() -> bool:
            if self.process.poll() is not None:
                error = self._error()
                if "address already in use" in error.lower() and self._retries < 3:
                    self._retries += 1  # another process took the port meanwhile
                    self.log.close()
                    self._start()
                    return False
                raise RuntimeError(f"server exited: {error}")
            return is_up(self.url)

        try:
            wait_until(started, f"the server on port {self.port} to start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextlib.contextmanager
def started_together(*servers: ServerProcess):
    """Servers whose processes were all started before any is waited for (each imports the
    app on a core of its own); yields them once every one answers, ends them all after."""
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.push(server.__exit__)  # ended on the way out, even one that never answered
        for server in servers:
            server.__enter__()
        yield servers


# Tolerances of the conformance checks against independent implementations (PyTorch, Keras,
# ONNX, the reference libraries), relative and absolute alike: the one table of the tests.
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def tolerance(dtype) -> float:
    """TOLERANCE of a dtype given by name, as a NumPy dtype or as a torch dtype."""
    return TOLERANCE[np.dtype(str(dtype).removeprefix("torch.")).name]


def close(actual, expected, dtype, rtol: float | None = None, err_msg: str = "") -> None:
    """actual equals expected to the tolerance of `dtype` (absolute, and relative unless
    `rtol` says otherwise: rtol=0 for an absolute bound only)."""
    tol = tolerance(dtype)
    np.testing.assert_allclose(actual, expected, rtol=tol if rtol is None else rtol, atol=tol,
                               err_msg=err_msg)


def peak_rss_bytes(pid: int) -> int:
    """The peak resident memory of a process so far (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


# An ONNX model for two sample rates, as shipped voice models are: Y = If(sr == 16000) then an
# LSTM (hidden 5) else a GRU (hidden 3, linear_before_reset), each with its own stored weights.
SAMPLE_RATE_BRANCHES = {"then": ("LSTM", 4, 5), "else": ("GRU", 3, 3)}  # op, blocks, hidden
SAMPLE_RATE_INPUTS = 4


def sample_rate_onnx(path, condition_op: str = "Equal", second_if: bool = False):
    """Write that model with onnx.helper to `path` (`second_if`: another If chosen by the
    same input beside it); returns the path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def branch(name):
        op, blocks, hidden = SAMPLE_RATE_BRANCHES[name]
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        return helper.make_graph(
            [helper.make_node(op, ["X", f"{name}_W", f"{name}_R", f"{name}_B"],
                              [f"{name}_Y"], hidden_size=hidden, **extra)],
            name, [], [helper.make_tensor_value_info(f"{name}_Y", TensorProto.FLOAT, None)])

    stored = {"rate": np.array(16000, np.int64)}
    for name, (_, blocks, hidden) in SAMPLE_RATE_BRANCHES.items():
        rng = np.random.default_rng(len(name) * 7 + blocks)
        stored[f"{name}_W"] = rng.normal(0, 0.5, (1, blocks * hidden, SAMPLE_RATE_INPUTS))
        stored[f"{name}_R"] = rng.normal(0, 0.5, (1, blocks * hidden, hidden))
        stored[f"{name}_B"] = rng.normal(0, 0.5, (1, 2 * blocks * hidden))
    nodes = [helper.make_node(condition_op, ["sr", "rate"], ["cond"]),
             helper.make_node("If", ["cond"], ["Y"], then_branch=branch("then"),
                              else_branch=branch("else"), name="by_rate")]
    if second_if:
        nodes.append(helper.make_node("If", ["cond"], ["Z"], name="again",
                                      then_branch=branch("then"), else_branch=branch("else")))
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, SAMPLE_RATE_INPUTS]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f"
                                             else v, k) for k, v in stored.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def sample_rate_runtime(path, xs: np.ndarray, rate: int) -> np.ndarray:
    """onnxruntime's Y (T, 1, 1, H) for rows xs (T, 1, I) at sample rate `rate`."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"X": xs, "sr": np.array(rate, np.int64)})[0]


# Ifs chosen by the inputs, one inside a branch of the other: Y = If(sr == 16000) then
# (If(mode == 1) then an LSTM (hidden 5) else a GRU (hidden 3)) else an RNN (hidden 4).
# Each way through them: the `branch=` that names it, the op and hidden size it runs, and
# the (sr, mode) inputs that take it.
NESTED_IF_WAYS = [
    ({"by_rate": "then", "by_mode": "then"}, ("LSTM", 4, 5), (16000, 1)),
    ({"by_rate": "then", "by_mode": "else"}, ("GRU", 3, 3), (16000, 0)),
    ({"by_rate": "else"}, ("RNN", 1, 4), (8000, 1)),
]


def nested_if_onnx(path):
    """Write that model with onnx.helper to `path` (checked by onnx.checker); the path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def recurrent(prefix, op, blocks, hidden, output):
        rng = np.random.default_rng(blocks * 11 + hidden)
        stored = [numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32),
                                          f"{prefix}_{name}")
                  for name, shape in (("W", (1, blocks * hidden, SAMPLE_RATE_INPUTS)),
                                      ("R", (1, blocks * hidden, hidden)),
                                      ("B", (1, 2 * blocks * hidden)))]
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        node = helper.make_node(op, ["X", *(t.name for t in stored)], [output],
                                hidden_size=hidden, name=f"{prefix}_{op.lower()}", **extra)
        return node, stored

    def graph(name, nodes, stored, output):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(
            output, TensorProto.FLOAT, [None, 1, 1, None])], initializer=stored)

    ops = {tuple(way.values()): op for way, op, _ in NESTED_IF_WAYS}
    lstm, lstm_w = recurrent("mode_then", *ops[("then", "then")], "mode_then_Y")
    gru, gru_w = recurrent("mode_else", *ops[("then", "else")], "mode_else_Y")
    rnn, rnn_w = recurrent("rate_else", *ops[("else",)], "rate_else_Y")
    by_mode = helper.make_node("If", ["mode_cond"], ["rate_then_Y"], name="by_mode",
                               then_branch=graph("mode_then", [lstm], lstm_w, "mode_then_Y"),
                               else_branch=graph("mode_else", [gru], gru_w, "mode_else_Y"))
    rate_then = graph("rate_then", [helper.make_node("Equal", ["mode", "one"], ["mode_cond"]),
                                    by_mode], [], "rate_then_Y")
    rate_else = graph("rate_else", [rnn], rnn_w, "rate_else_Y")
    main = helper.make_graph(
        [helper.make_node("Equal", ["sr", "rate"], ["rate_cond"]),
         helper.make_node("If", ["rate_cond"], ["Y"], name="by_rate", then_branch=rate_then,
                          else_branch=rate_else)], "nested",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, SAMPLE_RATE_INPUTS]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, []),
         helper.make_tensor_value_info("mode", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1, 1, None])],
        initializer=[numpy_helper.from_array(np.array(16000, np.int64), "rate"),
                     numpy_helper.from_array(np.array(1, np.int64), "one")])
    model = helper.make_model(main, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def nested_if_runtime(path, xs: np.ndarray, sr: int, mode: int, reference: bool = False
                      ) -> np.ndarray:
    """Y (T, 1, 1, H) of that model for rows xs (T, 1, I) by onnxruntime, or by onnx's
    reference evaluator (`reference`)."""
    feeds = {"X": xs, "sr": np.array(sr, np.int64), "mode": np.array(mode, np.int64)}
    if reference:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(str(path)).run(None, feeds)[0]
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


# -- a residual language model written by its own library (minGRU-pytorch's minLM) ----------
MIN_LM_TEXT = "the cat sat on héllo"


def byte_level_tokenizer(path, vocab_size: int = 290):
    """A byte-level BPE tokenizer trained by the `tokenizers` library on a little English
    (and two accented words), saved as a tokenizer.json at `path`; returns it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(["the cat sat on the mat " * 20, "héllo wörld"], trainer)
    tokenizer.save(str(path))
    return tokenizer


def write_min_lm(folder, seed: int = 12, enable_conv: bool = True):
    """A small minLM (minGRU-pytorch) saved as model.safetensors beside a tokenizer.json
    trained by the `tokenizers` library, in `folder`; returns (module, tokenizer)."""
    import torch
    from minGRU_pytorch.minLM import minLM
    from safetensors.torch import save_file

    tokenizer = byte_level_tokenizer(folder / "tokenizer.json")
    torch.manual_seed(seed)
    module = minLM(num_tokens=tokenizer.get_vocab_size(), dim=8, depth=2, ff_mult=2,
                   enable_conv=enable_conv)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()},
              str(folder / "model.safetensors"))
    return module, tokenizer


def min_lm_block_rows(module, ids) -> list[dict[str, np.ndarray]]:
    """Per layer, the rows minLM's own modules made around its cell for token ids (T,),
    caught by forward hooks (the names of cells.models.blocks.SIGNALS): the stream in, the
    convolution, the norm, the cell's output, the stream after the residual add, the
    feed-forward and the stream out."""
    import torch

    rows = [{} for _ in module.layers]
    hooks = []

    def keep(layer, name, which="output"):
        def hook(mod, args, out=None):
            value = args[0] if which == "input" else (out[0] if isinstance(out, tuple) else out)
            rows[layer][name] = value[0].detach().numpy().copy()
        return hook

    for layer, (conv, norm, cell, ff_norm, ff, _) in enumerate(module.layers):
        first = conv if conv is not None else norm
        hooks.append(first.register_forward_pre_hook(keep(layer, "block_in", "input")))
        if conv is not None:
            hooks.append(conv.register_forward_hook(keep(layer, "conv")))
        hooks.append(norm.register_forward_hook(keep(layer, "norm")))
        hooks.append(cell.register_forward_hook(keep(layer, "cell_out")))
        hooks.append(ff_norm.register_forward_pre_hook(keep(layer, "residual", "input")))
        hooks.append(ff.register_forward_hook(keep(layer, "ff")))
    hooks.append(module.norm.register_forward_pre_hook(keep(len(rows) - 1, "block_out",
                                                           "input")))
    try:
        with torch.no_grad():
            module(torch.tensor([list(ids)]))
    finally:
        for hook in hooks:
            hook.remove()
    for layer in range(len(rows) - 1):
        rows[layer]["block_out"] = rows[layer + 1]["block_in"]
    return rows
