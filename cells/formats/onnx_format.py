"""ONNX models: the weights of an LSTM, GRU or RNN node (operator specs of ai.onnx)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .common import (
    BOTH_DIRECTIONS,
    FORWARD,
    LoadedWeights,
    check_canonical,
    expect_matrix,
    expect_shape,
    float_tensor,
    pick_layer,
    reorder_blocks,
    shape_text,
)
from .limits import check_declared

_RECURRENT_OPS = ("LSTM", "GRU", "RNN")
_DIRECTIONS = ("forward", "reverse", "bidirectional")
_BLOCKS = {"LSTM": 4, "GRU": 3, "RNN": 1}
# ONNX stacks LSTM gates i,o,f,c (canonical i,f,g,o) and GRU gates z,r,h (canonical r,z,n).
_CANONICAL_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}
_DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}
# Input positions in the operator signatures.
_W, _R, _B, _P = 1, 2, 3, 7


def read_onnx(path: Path, label: str, layer: int) -> LoadedWeights:
    """Layer N is the N-th LSTM/GRU/RNN node of the main graph, in graph order."""
    from .onnx_graph import STANDARD_DOMAINS, BranchUndecided, load_plain_graph

    try:
        graph, _ = load_plain_graph(path, label)  # external data only from a sibling file
    except BranchUndecided as undecided:
        raise BranchUndecided(f"{undecided}; cells.load_model(path, branch='then' or 'else') "
                              "reads one branch", undecided.node, undecided.condition) from None
    nodes = [n for n in graph.node if n.op_type in _RECURRENT_OPS and n.domain in STANDARD_DOMAINS]
    if not nodes:
        ops = ", ".join(sorted({node.op_type for node in graph.node})) or "none"
        raise ValueError(f"{label}: no LSTM, GRU or RNN node in the graph (operators found: {ops})")
    node = nodes[pick_layer(label, layer, [_node_text(n) for n in nodes], "recurrent nodes")]
    where = f"{label}: {_node_text(node)}"
    direction = node_direction(node)
    if direction == "reverse":
        raise ValueError(
            f"{where} has direction='reverse'; only forward cells load as one cell "
            "(cells.load_model reads the whole model, backward directions included)"
        )
    backward = any(node_direction(n) != "forward" for n in nodes)
    loaded = node_cells(label, node, _stored_tensors(graph))[0]  # forward comes first
    return replace(
        loaded, layers=len(nodes), directions=BOTH_DIRECTIONS if backward else (FORWARD,)
    )


def node_direction(node: onnx.NodeProto) -> str:
    """'forward', 'reverse' or 'bidirectional' (the operator's attribute, default forward)."""
    for attribute in node.attribute:
        if attribute.name == "direction":
            return _text(helper.get_attribute_value(attribute))
    return "forward"


def node_cells(label: str, node: onnx.NodeProto, stored: dict) -> list[LoadedWeights]:
    """One cell per direction of the node, in the order of its weights' first axis:
    [forward], [reverse] or [forward, reverse]."""
    where = f"{label}: {_node_text(node)}"
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    tensors = {
        role: _input_array(where, node, index, role, stored)
        for role, index in (("W", _W), ("R", _R), ("B", _B), ("P", _P))
    }
    direction = node_direction(node)
    hidden_size = attributes.get("hidden_size")
    cells = []
    for index in range(2 if direction == "bidirectional" else 1):
        options = _options(where, node.op_type, attributes, index)
        params = _canonical(where, node.op_type, tensors, hidden_size, direction, index)
        lstm_kind = "peephole_lstm" if "peephole_i" in params else "lstm"
        kind = {"GRU": "gru", "RNN": "rnn"}.get(node.op_type, lstm_kind)
        check_canonical(label, kind, params)
        cells.append(LoadedWeights(kind, params, options, stated=frozenset(options)))
    return cells


def _node_text(node: onnx.NodeProto) -> str:
    """'LSTM node 'lstm_1'': its name, else its first output (Y itself may be left out)."""
    name = node.name or next((output for output in node.output if output), "")
    return f"{node.op_type} node {name!r}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _options(where: str, op: str, attributes: dict, index: int = 0) -> dict:
    """The options of direction `index` the attributes imply; refuses what the engine does
    not compute. A bidirectional node lists the forward direction's activations first."""
    direction = _text(attributes.get("direction", b"forward"))
    if direction not in _DIRECTIONS:
        raise ValueError(f"{where} has direction={direction!r}; expected one of {_DIRECTIONS}")
    if "clip" in attributes:
        raise ValueError(f"{where} has clip={attributes['clip']}; clipped cells are not supported")
    if attributes.get("input_forget", 0):
        raise ValueError(
            f"{where} has input_forget=1 (input and forget gates coupled); unsupported"
        )
    activations = [_text(a).lower() for a in attributes.get("activations", [])]
    per = len(_DEFAULT_ACTIVATIONS.get(op, ["tanh"]))  # activation functions per direction
    if direction == "bidirectional" and len(activations) == 2 * per:
        activations = activations[index * per:(index + 1) * per]
    if op == "RNN":
        if activations not in ([], ["tanh"], ["relu"]):
            raise ValueError(
                f"{where} has activations={activations}; an RNN supports ['Tanh'] or ['Relu']"
            )
        return {"nonlinearity": activations[0] if activations else "tanh"}
    if activations and activations != _DEFAULT_ACTIVATIONS[op]:
        raise ValueError(
            f"{where} has activations={activations}; "
            f"only the defaults {_DEFAULT_ACTIVATIONS[op]} are supported"
        )
    if op == "GRU":  # linear_before_reset=1 is PyTorch's GRU; ONNX's default 0 is Cho's
        return {"reset_after": bool(attributes.get("linear_before_reset", 0))}
    return {}


def _stored_tensors(graph: onnx.GraphProto) -> dict[str, TensorProto]:
    """Initializers and Constant node outputs by name."""
    stored = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    stored[node.output[0]] = attribute.t
    return stored


def _input_array(where: str, node, index: int, role: str, stored: dict) -> np.ndarray | None:
    if index >= len(node.input) or not node.input[index]:
        return None  # optional input left out
    name = node.input[index]
    shown = role if name == role else f"{role} ({name!r})"
    if name not in stored:
        raise ValueError(
            f"{where}: input {shown} is not stored in the file (a graph input or computed by "
            "another node); export with constant folding so the weights are initializers"
        )
    tensor = stored[name]
    if tensor.data_location == TensorProto.EXTERNAL:
        raise ValueError(
            f"{where}: input {shown} keeps its data in an external file, which is not read; "
            "save the model with its tensors inside it"
        )
    check_declared(where, shown, tensor.dims)
    return float_tensor(where, shown, numpy_helper.to_array(tensor))


def _canonical(
    where: str, op: str, tensors: dict, hidden_size: int | None, direction: str, index: int
) -> dict:
    """Direction `index` of W (D, G·H, I), R (D, G·H, H), B (D, 2·G·H), P (D, 3H) ->
    canonical params; D is 2 for a bidirectional node, else 1."""
    count = 2 if direction == "bidirectional" else 1
    w, r, b, p = (tensors[role] for role in ("W", "R", "B", "P"))
    if w is None or r is None:
        raise ValueError(f"{where}: the W and R inputs are required")
    expect_matrix(where, "R", r, 3, "(num_directions, G·H, H)")
    expect_matrix(where, "W", w, 3, "(num_directions, G·H, I)")
    hidden = r.shape[2]
    if hidden_size is not None and hidden_size != hidden:
        raise ValueError(
            f"{where}: hidden_size={hidden_size} but R has shape {shape_text(r.shape)} "
            f"(hidden_size {hidden})"
        )
    rows = _BLOCKS[op] * hidden
    what = f"a {direction} ONNX {op} with hidden_size {hidden}"
    expect_shape(where, "R", r, (count, rows, hidden), what)
    expect_shape(where, "W", w, (count, rows, w.shape[2]), what)
    if b is None:
        b = np.zeros((count, 2 * rows), w.dtype)
    expect_shape(where, "B", b, (count, 2 * rows), what)
    order = _CANONICAL_ORDER[op]
    params = {
        "weight_ih": reorder_blocks(w[index], order),  # (G·H, I)
        "weight_hh": reorder_blocks(r[index], order),  # (G·H, H)
        "bias_ih": reorder_blocks(b[index, :rows], order),
        "bias_hh": reorder_blocks(b[index, rows:], order),
    }
    if p is not None and op == "LSTM":
        expect_shape(where, "P", p, (count, 3 * hidden), what)
        # P is stacked i,o,f.
        params["peephole_i"], params["peephole_o"], params["peephole_f"] = np.split(p[index], 3)
    return params
