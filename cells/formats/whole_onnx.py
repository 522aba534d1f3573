"""Whole ONNX models: LSTM/GRU/RNN nodes in every direction and layout, stacked, with the
Gather (embedding), MatMul / Gemm / Add (linear head) and Softmax / Sigmoid around them.

Shape plumbing between them (Transpose, Reshape, Squeeze, Concat, ...) is followed, not
computed: what matters is which recurrent output each part reads, and the widths check
that the parts fit. Any other operator is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .common import BACKWARD, FORWARD, MAX_TENSOR_BYTES, float_tensor, shape_text
from .model_parts import LayerWeights, ModelWeights, check_chain
from .onnx_format import _RECURRENT_OPS, _node_text, _stored_tensors, node_cells, node_direction
from .onnx_graph import BRANCHES, STANDARD_DOMAINS, BranchUndecided, load_plain_graph

MAX_BRANCH_PATHS = 16  # ways through nested Ifs chosen by the inputs that are listed

# Operators that only move, reshape or join values (or compute shapes for that).
PLUMBING = frozenset({
    "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Identity", "Constant", "Shape",
    "Slice", "Cast", "Flatten", "ConstantOfShape", "Expand", "Split",
})
HEAD_OPS = frozenset({"MatMul", "Gemm", "Add", "Softmax", "Sigmoid", "Gather"})
_INPUTS_NEEDED = {"LSTM": 3, "GRU": 3, "RNN": 3, "Gather": 2, "MatMul": 2, "Gemm": 2, "Add": 2,
                  "Softmax": 1, "Sigmoid": 1}


def read_onnx_model(path: Path, label: str, branch: str | dict | None = None) -> ModelWeights:
    """branch: "then" or "else", the branch of an If chosen by the model's inputs (one file
    for two sample rates), or {If node name: "then" / "else"} where such Ifs nest; without
    it such a file is refused with what each branch (each way through them) holds."""
    try:
        return _read_chosen(path, label, branch)
    except BranchUndecided as undecided:
        found = onnx_branches(path, label, undecided)
        held = "; ".join(f"{b['name']!r} holds {b['summary']}" for b in found)
        if all(len(b["choice"]) == 1 for b in found):
            how = "choose one with branch='then' or branch='else' " \
                  "(cells.load_model(path, branch='else'))"
        else:
            how = ("choose the branch of each If by its node name, outer to inner, with "
                   f"branch={found[0]['choice']!r}")
        raise BranchUndecided(f"{undecided}; {how}: {held}", undecided.node,
                              undecided.condition, undecided.chosen) from None


def _read_chosen(path: Path, label: str, branch) -> ModelWeights:
    """read_onnx_model, an If left undecided raising BranchUndecided as it is."""
    graph, notices = load_plain_graph(path, label, branch)
    stored = _stored_tensors(graph)
    producers = {out: node for node in graph.node for out in node.output if out}
    others = sorted({n.op_type for n in graph.node
                     if n.op_type not in PLUMBING | HEAD_OPS | set(_RECURRENT_OPS)
                     or n.domain not in STANDARD_DOMAINS})
    if others:
        raise ValueError(
            f"{label}: operator(s) {', '.join(others)} are not supported; a model may hold "
            "LSTM, GRU and RNN nodes with Gather, MatMul, Gemm, Add, Softmax or Sigmoid "
            "around them"
        )
    for node in graph.node:
        needed = _INPUTS_NEEDED.get(node.op_type, 0)
        if len(node.input) < needed or not all(node.input[:needed]) or not node.output:
            raise ValueError(f"{label}: {node.op_type} node {node.name or '(unnamed)'!r} has "
                             f"{len(node.input)} input(s) and {len(node.output)} output(s); "
                             f"it needs {needed} input(s) and an output")
    recurrent = [n for n in graph.node if n.op_type in _RECURRENT_OPS]
    if not recurrent:
        raise ValueError(f"{label}: no LSTM, GRU or RNN node in the graph")

    def origin(name: str):
        """(node, output index) that `name` comes from, through the plumbing; None for a
        graph input or stored tensor."""
        seen = 0
        while name in producers and seen < len(graph.node):
            node = producers[name]
            if node.op_type in PLUMBING and node.op_type != "Constant":
                inputs = [i for i in node.input if i and i not in stored]
                if not inputs:
                    return None
                name, seen = inputs[0], seen + 1
                continue
            return node, list(node.output).index(name)
        return None

    layers = []
    for index, node in enumerate(recurrent):
        where = f"{label}: {_node_text(node)}"
        if len(node.input) < 3 or not all(node.input[:3]):
            raise ValueError(f"{where} needs its inputs X, W and R")
        source = origin(node.input[0])
        if index > 0 and (source is None or source[0] is not recurrent[index - 1]
                          or source[1] != 0):
            raise ValueError(f"{where} does not read the output Y of "
                             f"{_node_text(recurrent[index - 1])}; only stacked layers are "
                             "supported")
        if index == 0 and source is not None and source[0].op_type != "Gather":
            raise ValueError(f"{where} reads {source[0].op_type} output; layer 0 must read the "
                             "graph input or an embedding (Gather)")
        _check_layout(where, node)
        for position, role in ((4, "sequence_lens"), (5, "initial_h"), (6, "initial_c")):
            name = node.input[position] if len(node.input) > position else ""
            if name in stored and role != "sequence_lens" and \
                    np.any(stored_array(label, name, stored)):
                raise ValueError(f"{where}: its {role} {name!r} is a stored nonzero state; "
                                 "only runs from zero (or a state given to run) are supported")
            if name in stored and role == "sequence_lens":
                raise ValueError(f"{where}: its sequence_lens {name!r} is stored in the file; "
                                 "every step of the sequence is run, so leave it out")
        found = node_cells(label, node, stored)
        direction = node_direction(node)
        if direction == "bidirectional":
            cells = {FORWARD: found[0], BACKWARD: found[1]}
        else:
            cells = {BACKWARD if direction == "reverse" else FORWARD: found[0]}
        layers.append(LayerWeights(cells))
    embedding = _embedding(label, graph, stored, origin, recurrent[0])
    head = _head(label, graph, stored, origin, recurrent[-1])
    weights = ModelWeights(label, tuple(layers), embedding=embedding, notices=notices, **head)
    check_chain(weights)
    return weights


def onnx_branches(path: Path, label: str,
                  undecided: BranchUndecided | None = None) -> list[dict] | None:
    """What each way through the Ifs chosen by the model's inputs holds (None when the file
    has no such If): per way its `choice` ({If node name: branch}, outer first, as
    `branch=` takes it), `name` ("then" / "else" for one If, else "by_rate: then, by_mode:
    else"), the outermost If's `node` and `condition`, `conditions` of each If chosen,
    kind, layers, directions, input_size, hidden_size, head outputs, and a `summary` in
    words (or why it does not read)."""
    if undecided is None:
        try:
            load_plain_graph(path, label)
            return None
        except BranchUndecided as found:
            undecided = found
    ways: list[dict] = []

    def walk(chosen: dict, at: BranchUndecided, conditions: dict) -> None:
        for name in BRANCHES:  # depth first, "then" before "else"
            choice, said = {**chosen, at.node: name}, {**conditions, at.node: at.condition}
            try:
                weights = _read_chosen(path, label, choice)
            except BranchUndecided as inner:
                if inner.node in choice:  # not an If further in: refused as it is
                    raise
                walk(choice, inner, said)
                continue
            except ValueError as error:
                reason = str(error).removeprefix(label + ": ")
                ways.append(_way(choice, said, None, f"nothing that reads ({reason})"))
            else:
                ways.append(_way(choice, said, weights, None))
            if len(ways) > MAX_BRANCH_PATHS:
                raise ValueError(f"{label}: the Ifs chosen by the model's inputs make more "
                                 f"than {MAX_BRANCH_PATHS} ways through the graph; only that "
                                 "many are read")

    walk(dict(undecided.chosen), undecided, {})
    if all(len(way["choice"]) == 1 for way in ways):
        for way in ways:
            way["name"] = next(iter(way["choice"].values()))
    return ways


def _way(choice: dict, conditions: dict, weights: ModelWeights | None,
         summary: str | None) -> dict:
    """One way through the Ifs chosen by the inputs, and what it holds."""
    first = next(iter(choice))
    record = {"name": ", ".join(f"{node}: {b}" for node, b in choice.items()),
              "node": first, "condition": conditions.get(first, ""), "choice": dict(choice),
              "conditions": dict(conditions)}
    if weights is None:
        record["summary"] = summary
        return record
    layers = weights.layers
    cell = next(iter(layers[0].cells.values()))
    record.update({
        "kind": cell.kind, "layers": len(layers),
        "directions": list(dict.fromkeys(d for layer in layers for d in layer.cells)),
        "input_size": int(cell.params["weight_ih"].shape[1]),
        "hidden_size": int(cell.params["weight_hh"].shape[1]),
        "head_outputs": None if weights.head_weight is None
        else int(weights.head_weight.shape[0])})
    kinds = "/".join(dict.fromkeys(c.kind for layer in layers for c in layer.cells.values()))
    head = ("no head" if record["head_outputs"] is None
            else f"a head of {record['head_outputs']} outputs")
    record["summary"] = (f"{record['layers']} {kinds} layer{'s' if len(layers) > 1 else ''}"
                         f" ({', '.join(record['directions'])}), input_size "
                         f"{record['input_size']}, hidden_size {record['hidden_size']}, "
                         f"{head}")
    return record


def stored_array(label: str, name: str, stored: dict) -> np.ndarray:
    """A stored tensor (initializer or Constant) as floats, its declared size checked first."""
    tensor = stored[name]
    if tensor.data_location == TensorProto.EXTERNAL:
        raise ValueError(f"{label}: {name!r} keeps its data in an external file, which is not "
                         "read; save the model with its tensors inside it")
    itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    size = int(np.prod([int(d) for d in tensor.dims], dtype=np.float64)) * itemsize
    if size > MAX_TENSOR_BYTES:
        raise ValueError(f"{label}: {name!r} declares {size} bytes, over the "
                         f"{MAX_TENSOR_BYTES} byte limit")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:  # data that does not fit its declared shape
        raise ValueError(f"{label}: {name!r} cannot be read ({error})") from None
    return float_tensor(label, name, array)


def _check_layout(where: str, node) -> None:
    for attribute in node.attribute:
        if attribute.name == "layout" and helper.get_attribute_value(attribute) not in (0, 1):
            raise ValueError(f"{where} has layout={helper.get_attribute_value(attribute)}; "
                             "expected 0 or 1")


def _embedding(label, graph, stored, origin, first) -> np.ndarray | None:
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in stored]
    if not gathers:
        return None
    source = origin(first.input[0])
    if len(gathers) > 1 or source is None or source[0] is not gathers[0]:
        names = ", ".join(repr(n.name or n.output[0]) for n in gathers)
        raise ValueError(f"{label}: Gather node(s) {names} over stored tables; only one "
                         f"embedding read by {_node_text(first)} is supported")
    name = gathers[0].input[0]
    table = stored_array(label, name, stored)
    if table.ndim != 2:
        raise ValueError(f"{label}: embedding {name!r} has shape "
                         f"{shape_text(table.shape)}; expected (V, E)")
    return table


def _head(label, graph, stored, origin, last) -> dict:
    """head_weight, head_bias, activation and returns from the nodes after the last layer."""
    linear = [n for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    adds = [n for n in graph.node if n.op_type == "Add"]
    activations = [n for n in graph.node if n.op_type in ("Softmax", "Sigmoid")]
    if not linear:
        if adds or activations:
            ops = ", ".join(sorted({n.op_type for n in adds + activations}))
            raise ValueError(f"{label}: {ops} without a MatMul or Gemm head is not supported")
        return {"activation": "linear"}
    if len(linear) > 1 or len(adds) > 1 or len(activations) > 1:
        raise ValueError(f"{label}: holds more than one linear head (MatMul/Gemm nodes: "
                         f"{', '.join(repr(n.name or n.output[0]) for n in linear)}); one is "
                         "supported")
    node = linear[0]
    where = f"{label}: {node.op_type} node {node.name or node.output[0]!r}"
    data = [i for i in node.input[:2] if i not in stored]
    weights = [i for i in node.input[:2] if i in stored]
    if len(data) != 1 or len(weights) != 1:
        raise ValueError(f"{where} must multiply the last layer's output by a stored matrix")
    source = origin(data[0])
    if source is None or source[0] is not last or source[1] not in (0, 1):
        raise ValueError(f"{where} does not read the output of {_node_text(last)}")
    returns = "sequence" if source[1] == 0 else "last"  # Y, or the final state Y_h
    matrix = stored_array(label, weights[0], stored)
    if matrix.ndim != 2:
        raise ValueError(f"{where}: {weights[0]!r} has shape {shape_text(matrix.shape)}; "
                         "expected a matrix")
    bias = None
    if node.op_type == "Gemm":
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attributes.get("transA", 0) or node.input[0] not in data:
            raise ValueError(f"{where}: only Gemm(y, W) with transA=0 is supported")
        alpha, beta = attributes.get("alpha", 1.0), attributes.get("beta", 1.0)
        weight = (matrix.T if not attributes.get("transB", 0) else matrix) * alpha  # (O, In)
        if len(node.input) > 2 and node.input[2]:
            bias = stored_array(label, node.input[2], stored)
            bias = np.broadcast_to(bias * beta, weight.shape[:1]).copy()
    else:
        weight = matrix.T if node.input[1] in weights else None  # y @ W: W is (In, O)
        if weight is None:
            raise ValueError(f"{where}: only MatMul(y, W) is supported, not W @ y")
    if adds:
        add = adds[0]
        terms = [i for i in add.input if i in stored]
        if len(terms) != 1 or origin_node(origin, add) is not node:
            raise ValueError(f"{label}: Add node {add.name or add.output[0]!r} must add a "
                             "stored bias to the head's MatMul")
        if bias is not None:
            raise ValueError(f"{label}: the head has a bias in Gemm and in an Add")
        bias = stored_array(label, terms[0], stored)
        bias = np.broadcast_to(bias, weight.shape[:1]).copy()
    activation = "linear"
    if activations:
        act = activations[0]
        if origin_node(origin, act) not in (node, *adds):
            raise ValueError(f"{label}: {act.op_type} node must read the head's output")
        activation = act.op_type.lower()
        if act.op_type == "Softmax":
            _check_softmax_axis(label, act, returns)
    return {"head_weight": weight, "head_bias": bias if bias is not None
            else np.zeros(weight.shape[0], weight.dtype), "activation": activation,
            "returns": returns}


def origin_node(origin, node):
    """The node whose output feeds `node`'s first non-stored input."""
    found = next((origin(name) for name in node.input[:2] if origin(name)), None)
    return found[0] if found else None


def _check_softmax_axis(label: str, node, returns: str) -> None:
    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)
    if axis != -1 and not (returns == "last" and axis == 1) and not (returns == "sequence"
                                                                     and axis == 2):
        raise ValueError(f"{label}: Softmax over axis {axis} is not over the head's outputs")
