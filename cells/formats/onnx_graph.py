"""An ONNX graph as exporters write it today, made plain before its cells are read.

Four passes, each on data only (nothing in the file is run, no library op is called):
- external data: initializers kept in a file beside the model (`model.onnx.data`) are read
  from that sibling file only; a location that is a path, absolute or `..` is refused;
- constant folding: a small NumPy evaluator (`FOLDABLE`) computes the nodes whose inputs are
  all known from the file (weights sliced, concatenated or transposed from initializers);
  shape arithmetic over `Shape` of the data (unknown until run) is marked and dropped,
  since it only feeds the shape inputs of Reshape / Expand and zero starting states;
- `If` nodes whose condition folds to a constant are replaced by the branch they take;
  an `If` chosen by the model's inputs (a sample-rate input: `Equal(sr, 16000)`) takes
  the branch the caller names (`BRANCHES`: "then" or "else"), else `BranchUndecided`;
  where such Ifs nest (an If inside a branch of another), each is named by its node name
  (`branch={"by_rate": "then", "by_mode": "else"}`), outer to inner;
- onnxruntime's dynamic quantization (DynamicQuantizeLSTM, MatMulInteger, a Gather of an
  int8 table) is read back as the float model its weights dequantize to, with a notice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from .common import BRANCHES, MAX_TENSOR_BYTES  # noqa: F401 - BRANCHES asked for here too
from .limits import MAX_TENSOR_ELEMENTS, check_declared

STANDARD_DOMAINS = ("", "ai.onnx")  # the ONNX standard operators' domain, by both its names
_MICROSOFT = "com.microsoft"
DEQUANTIZED = ("the model is int8-quantized (onnxruntime dynamic quantization); its weights "
               "are dequantized to float, so the numbers shown are the float model's, not "
               "the int8 runtime's")


class BranchUndecided(ValueError):
    """An If chooses its branch by the model's inputs and no branch was named for it: `node`
    (its name), `condition` (how it chooses, in words: "'sr' == 16000"), `chosen` (the
    Ifs chosen on the way to it, {name: branch}, outer first; empty for an outermost If)."""

    def __init__(self, message: str, node: str, condition: str, chosen: dict | None = None):
        super().__init__(message)
        self.node, self.condition, self.chosen = node, condition, dict(chosen or {})


def check_branch(label: str, branch) -> None:
    """branch: None, "then" / "else", or {If node name: "then" / "else"}."""
    if branch is None:
        return
    if isinstance(branch, str):
        if branch not in BRANCHES:
            raise ValueError(f"{label}: branch {branch!r} is not one of {', '.join(BRANCHES)}")
        return
    if not isinstance(branch, Mapping) or not branch:
        raise ValueError(f"{label}: branch must be 'then', 'else' or a dict naming the branch "
                         "of each If by node name ({'by_rate': 'then'}), not "
                         f"{type(branch).__name__ if branch is not None else branch!r}")
    for name, taken in branch.items():
        if not isinstance(name, str) or taken not in BRANCHES:
            raise ValueError(f"{label}: branch {{{name!r}: {taken!r}}}: each If node name "
                             f"takes one of {', '.join(BRANCHES)}")


def load_plain_graph(path: Path, label: str, branch: str | Mapping | None = None
                     ) -> tuple[onnx.GraphProto, tuple[str, ...]]:
    """(the model's main graph made plain, notices about what the numbers are).

    branch: "then" or "else", the branch taken by the one If whose condition depends on the
    model's inputs; or {If node name: "then" / "else"} for each such If where they nest
    (an If whose condition is known from the file takes its own)."""
    check_branch(label, branch)
    try:
        # External data is read below from a sibling file only, never by the library.
        model = onnx.load(str(path), load_external_data=False)
    except DecodeError as error:
        raise ValueError(f"{label}: not a readable ONNX model ({error})") from None
    graph = onnx.GraphProto()
    graph.CopyFrom(model.graph)
    _inline_external_data(label, path.parent, graph)
    notices: list[str] = []
    chosen: list[str] = []  # the If taken by `branch`, once taken
    for _ in range(16):  # an If may hold another If: fold, choose, again
        known, shaped, zeros = _fold(label, graph)
        if not _choose_branches(label, graph, known, branch, chosen):
            break
    if branch is not None and not chosen:
        raise ValueError(f"{label}: branch={branch!r} was given, but no If node of the graph "
                         "chooses its branch by the model's inputs; leave branch out")
    unused = [n for n in (branch if isinstance(branch, Mapping) else ()) if n not in chosen]
    if unused:
        raise ValueError(f"{label}: branch= names If node(s) {', '.join(map(repr, unused))}, "
                         "which the branches taken do not reach (the Ifs chosen by the "
                         f"model's inputs on this way: {', '.join(map(repr, chosen))})")
    if chosen:  # what computed the condition from the inputs is read by nothing now
        _drop_unused(graph)
        known, shaped, zeros = _fold(label, graph)
    if _dequantize(label, graph, known):
        notices.append(DEQUANTIZED)
        known, shaped, zeros = _fold(label, graph)
    _check_computed_states(label, graph, shaped, zeros)
    _replace_folded(graph, known, shaped, zeros)
    return graph, tuple(notices)


# -- external data ----------------------------------------------------------------------------

def external_locations(path: Path, label: str) -> set[str]:
    """The files an ONNX model keeps its initializers in (their names as the model says)."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except DecodeError as error:
        raise ValueError(f"{label}: not a readable ONNX model ({error})") from None
    return {entry.value for tensor in model.graph.initializer
            if tensor.data_location == TensorProto.EXTERNAL
            for entry in tensor.external_data if entry.key == "location"}


def self_contained(path: Path, label: str) -> bytes:
    """The model with its external data (read from beside it, as load_plain_graph reads it)
    inside: one file that needs nothing beside it."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except DecodeError as error:
        raise ValueError(f"{label}: not a readable ONNX model ({error})") from None
    _inline_external_data(label, path.parent, model.graph)
    return model.SerializeToString()


def _inline_external_data(label: str, folder: Path, graph: onnx.GraphProto) -> None:
    for index, tensor in enumerate(graph.initializer):
        if tensor.data_location == TensorProto.EXTERNAL:
            graph.initializer[index].CopyFrom(numpy_helper.from_array(
                _external_array(label, folder, tensor), tensor.name))


def _external_array(label: str, folder: Path, tensor: TensorProto) -> np.ndarray:
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    where = f"{label}: {tensor.name!r} keeps its data in {location!r}"
    if not location or location in (".", "..") or Path(location).name != location \
            or any(mark in location for mark in "/\\:"):
        raise ValueError(f"{where}; only a file beside the model, named without a path, is "
                         "read")
    file = folder / location
    if file.is_symlink() or not file.is_file():
        raise ValueError(f"{where}, which is not a file beside the model; give it with the "
                         "model (e.g. model.onnx and model.onnx.data)")
    check_declared(label, tensor.name, tensor.dims)
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"{where} as data type {tensor.data_type}, which is not read") from None
    if dtype.kind not in "fiub":
        raise ValueError(f"{where} as {dtype}, which is not read")
    size = math.prod(int(d) for d in tensor.dims) * dtype.itemsize
    try:
        offset, length = int(info.get("offset", 0)), int(info.get("length", size))
    except ValueError:
        raise ValueError(f"{where} at an offset or length that is not a number") from None
    if length != size or offset < 0 or size > MAX_TENSOR_BYTES:
        raise ValueError(f"{where}: {length} bytes stated, {size} declared by its shape "
                         f"{list(tensor.dims)}")
    if offset + length > file.stat().st_size:
        raise ValueError(f"{where} at bytes {offset}..{offset + length}, past the end of "
                         f"{location} ({file.stat().st_size} bytes)")
    with open(file, "rb") as handle:
        handle.seek(offset)
        raw = handle.read(length)
    return np.frombuffer(raw, dtype.newbyteorder("<")).reshape(
        [int(d) for d in tensor.dims]).astype(dtype.newbyteorder("="))


# -- constant folding -------------------------------------------------------------------------

def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _constant(node: onnx.NodeProto) -> np.ndarray | None:
    attributes = _attributes(node)
    if "value" in attributes:
        return numpy_helper.to_array(attributes["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attributes:
            return np.array(attributes[key], dtype)
    return None


def _slice(data, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def _reshape(data, shape, allowzero=0):
    shape = [int(d) for d in shape]
    if not allowzero:
        shape = [data.shape[k] if d == 0 else d for k, d in enumerate(shape)]
    return data.reshape(shape)


def _unsqueeze(data, axes):
    rank = data.ndim + len(axes)
    for axis in sorted(int(a) % rank for a in axes):
        data = np.expand_dims(data, axis)
    return data


def _squeeze(data, axes=None):
    return np.squeeze(data) if axes is None else np.squeeze(
        data, tuple(int(a) % data.ndim for a in axes))


def _dequantize_linear(q, scale, zero=None, axis=1):
    scale = np.asarray(scale, np.float32)
    zero = np.zeros((), np.int32) if zero is None else np.asarray(zero).astype(np.int32)
    if scale.ndim == 1 and q.ndim > 1:  # per axis
        shape = [1] * q.ndim
        shape[int(axis) % q.ndim] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.int32) - zero) * scale).astype(np.float32)


def _range(start, limit, delta):
    return np.arange(start[()], limit[()], delta[()], dtype=np.result_type(start, limit, delta))


# op -> f(inputs, attributes); inputs left out are None.
FOLDABLE = {
    "Identity": lambda x, a: x[0],
    "Shape": lambda x, a: np.array(x[0].shape[a.get("start", 0):a.get("end")], np.int64),
    "Gather": lambda x, a: np.take(x[0], x[1], axis=a.get("axis", 0)),
    "Slice": lambda x, a: _slice(x[0], *(x[1:5] + [None] * (5 - len(x))) if len(x) > 1
                                 else (a["starts"], a["ends"], a.get("axes"), None)),
    "Concat": lambda x, a: np.concatenate([v for v in x if v is not None], axis=a["axis"]),
    "Unsqueeze": lambda x, a: _unsqueeze(x[0], x[1] if len(x) > 1 else a["axes"]),
    "Squeeze": lambda x, a: _squeeze(x[0], x[1] if len(x) > 1 else a.get("axes")),
    "Reshape": lambda x, a: _reshape(x[0], x[1], a.get("allowzero", 0)),
    "Transpose": lambda x, a: np.transpose(x[0], a.get("perm")),
    "Mul": lambda x, a: x[0] * x[1],
    "Add": lambda x, a: x[0] + x[1],
    "Equal": lambda x, a: np.equal(x[0], x[1]),
    "Cast": lambda x, a: x[0].astype(helper.tensor_dtype_to_np_dtype(a["to"])),
    "ConstantOfShape": lambda x, a: np.full(
        [int(d) for d in x[0]], *(numpy_helper.to_array(a["value"]).reshape(-1)
                                  if "value" in a else [np.float32(0)])),
    "Expand": lambda x, a: np.broadcast_to(
        x[0], np.broadcast_shapes(x[0].shape, tuple(int(d) for d in x[1]))).copy(),
    "Range": lambda x, a: _range(*x),
    "DequantizeLinear": lambda x, a: _dequantize_linear(*x, axis=a.get("axis", 1)),
}
# Ops that keep a zero-filled value zero-filled (a run's zero starting state, shaped to it).
_KEEP_ZEROS = frozenset({"Identity", "Slice", "Reshape", "Unsqueeze", "Squeeze", "Transpose",
                         "Expand", "Cast", "Gather", "Concat"})


def _output_size(op: str, inputs: list, attributes: dict) -> int:
    """How many numbers `op` would make, known before it is computed (a ConstantOfShape or
    Expand from a stored shape could ask for any amount)."""
    if op == "ConstantOfShape":
        return math.prod(int(d) for d in inputs[0])
    if op == "Expand":
        return math.prod(np.broadcast_shapes(inputs[0].shape, tuple(int(d) for d in inputs[1])))
    if op == "Range":
        start, limit, delta = (float(v[()]) for v in inputs)
        return max(0, math.ceil((limit - start) / delta)) if delta else MAX_TENSOR_ELEMENTS + 1
    if op in ("Mul", "Add", "Equal"):
        return math.prod(np.broadcast_shapes(inputs[0].shape, inputs[1].shape))
    if op == "Gather":
        return np.asarray(inputs[1]).size * max(1, inputs[0].size // max(1, len(inputs[0])))
    if op == "Concat":
        return sum(v.size for v in inputs if v is not None)
    return max((v.size for v in inputs if v is not None), default=0)


def _fold(label: str, graph: onnx.GraphProto):
    """(known values by name, names that are shape arithmetic over data not yet known, the
    shape-arithmetic names that are all zeros)."""
    known: dict[str, np.ndarray] = {}
    for tensor in graph.initializer:
        check_declared(label, tensor.name, tensor.dims)
        try:
            known[tensor.name] = numpy_helper.to_array(tensor)
        except (ValueError, TypeError) as error:  # data that does not fit its declared shape
            raise ValueError(f"{label}: {tensor.name!r} cannot be read ({error})") from None
    shaped: set[str] = set()
    zeros: set[str] = set()
    for node in graph.node:
        if node.domain not in STANDARD_DOMAINS:
            continue
        op, names = node.op_type, list(node.input)
        if op == "Constant":
            value = _constant(node)
            if value is not None:
                check_declared(label, node.output[0], value.shape)
                known[node.output[0]] = value
            continue
        if op not in FOLDABLE:
            continue
        present = [n for n in names if n]
        if op == "Shape" and present and present[0] not in known:
            shaped.update(o for o in node.output if o)
            continue
        if present and all(n in known for n in present):
            inputs = [known[n] if n else None for n in names]
            attributes = _attributes(node)
            where = f"{label}: {op} node {node.name or node.output[0]!r}"
            try:
                if _output_size(op, inputs, attributes) > MAX_TENSOR_ELEMENTS:
                    raise ValueError(f"{where} would make more than {MAX_TENSOR_ELEMENTS} "
                                     "numbers; it is not computed")
                known[node.output[0]] = np.asarray(FOLDABLE[op](inputs, attributes))
            except (ValueError, TypeError, IndexError, KeyError, OverflowError) as error:
                if str(error).startswith(label):
                    raise
                raise ValueError(f"{where} cannot be computed from its stored inputs "
                                 f"({error})") from None
        elif present and all(n in known or n in shaped for n in present):
            shaped.update(o for o in node.output if o)
            def is_zero(name: str) -> bool:
                return name in zeros or (name in known and not np.any(known[name]))

            data = present if op == "Concat" else present[:1]
            all_zero = (op == "ConstantOfShape" and not np.any(_constant_fill(node))) or (
                op in _KEEP_ZEROS and all(is_zero(n) for n in data))
            if all_zero:
                zeros.update(o for o in node.output if o)
    return known, shaped, zeros


def _constant_fill(node: onnx.NodeProto) -> np.ndarray:
    attributes = _attributes(node)
    return numpy_helper.to_array(attributes["value"]) if "value" in attributes else np.zeros(1)


def _replace_folded(graph: onnx.GraphProto, known: dict, shaped: set, zeros: set) -> None:
    """Folded nodes become initializers and shape arithmetic is dropped; a starting state it
    fills with zeros (shaped to the input at run time) becomes a stored zero."""
    stored = {t.name for t in graph.initializer}
    kept = []
    for node in graph.node:
        outputs = [o for o in node.output if o]
        if node.domain in STANDARD_DOMAINS and outputs and all(o in known for o in outputs):
            for name in outputs:
                if name not in stored:
                    graph.initializer.append(numpy_helper.from_array(
                        np.ascontiguousarray(known[name]), name))
                    stored.add(name)
        elif node.domain in STANDARD_DOMAINS and outputs and all(o in shaped for o in outputs):
            for name in outputs:
                if name in zeros:
                    graph.initializer.append(numpy_helper.from_array(np.zeros(1, np.float32),
                                                                     name))
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def _check_computed_states(label: str, graph: onnx.GraphProto, shaped: set, zeros: set):
    """A starting state filled in the graph with anything but zeros is not dropped unseen."""
    for node in graph.node:
        if node.op_type in ("LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"):
            for name in list(node.input)[5:7]:
                if name in shaped and name not in zeros:
                    raise ValueError(f"{label}: {node.op_type} node {node.name or node.output[0]!r}"
                                     f" starts from {name!r}, filled in the graph with values "
                                     "other than zeros; only zero starting states (or a state "
                                     "given to run) are supported")


# -- If -----------------------------------------------------------------------------------

def _choose_branches(label: str, graph: onnx.GraphProto, known: dict,
                     branch: str | Mapping | None, chosen: list[str]) -> bool:
    """Replace each If whose condition is known by the branch it takes, and one chosen by
    the model's inputs by `branch` (its name appended to `chosen`); True if any was."""
    changed = False
    nodes = []
    names = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type != "If" or node.domain not in STANDARD_DOMAINS:
            nodes.append(node)
            continue
        name = node.name or node.output[0]
        where = f"{label}: If node {name!r}"
        condition = node.input[0] if node.input else ""
        if condition in known:
            value = np.asarray(known[condition])
            if value.size != 1:
                raise ValueError(f"{where}: its condition has {value.size} values, not one")
            taken = "then" if bool(value.reshape(-1)[0]) else "else"
        else:
            said = _condition_text(graph, known, condition)
            by_name = isinstance(branch, Mapping)
            if branch is None or (by_name and name not in branch):
                so_far = {n: branch[n] for n in chosen} if by_name else {}
                raise BranchUndecided(
                    f"{where} chooses its branch by {condition!r}, which is not known from the "
                    f"file (it depends on the model's inputs: {said})"
                    + (f"; branch= names no branch for it (chosen: {so_far})" if by_name
                       else ""), name, said, so_far)
            if chosen and not by_name:
                raise ValueError(f"{where} also chooses its branch by the model's inputs "
                                 f"({said}); branch= chooses for one If only, and If node "
                                 f"{chosen[0]!r} was chosen by it; name each If's branch "
                                 f"with branch={{{chosen[0]!r}: {branch!r}, {name!r}: ...}}")
            chosen.append(name)
            taken = branch[name] if by_name else branch
        attributes = _attributes(node)
        body = attributes.get(f"{taken}_branch")
        if not isinstance(body, onnx.GraphProto) or len(body.output) != len(node.output):
            raise ValueError(f"{where}: its branch does not give its {len(node.output)} outputs")
        inner = {t.name for t in body.initializer} | {o for n in body.node for o in n.output}
        clash = sorted((inner & names) - {""})
        if clash:
            raise ValueError(f"{where}: its branch reuses the names {clash[:5]}")
        graph.initializer.extend(body.initializer)
        nodes.extend(body.node)
        for inner_output, output in zip(body.output, node.output, strict=True):
            if output:
                nodes.append(helper.make_node("Identity", [inner_output.name], [output]))
        changed = True
    del graph.node[:]
    graph.node.extend(nodes)
    return changed


_COMPARISONS = {"Equal": "==", "Greater": ">", "Less": "<", "GreaterOrEqual": ">=",
                "LessOrEqual": "<="}


def _condition_text(graph: onnx.GraphProto, known: dict, condition: str) -> str:
    """How an If chooses, in words: "'sr' == 16000" for a comparison of an input with a
    stored number (through Cast / Identity), else "'cond' is true"."""
    producers = {o: n for n in graph.node for o in n.output if o}

    def said(name: str) -> str:
        for _ in range(8):  # through the casts an exporter puts around an input
            node = producers.get(name)
            if node is None or node.op_type not in ("Cast", "Identity", "Squeeze", "Reshape"):
                break
            name = node.input[0]
        if name in known and np.asarray(known[name]).size == 1:
            return str(np.asarray(known[name]).reshape(-1)[0].item())
        return repr(name)

    node = producers.get(condition)
    if node is not None and node.op_type in _COMPARISONS and len(node.input) == 2:
        return f"'then' when {said(node.input[0])} {_COMPARISONS[node.op_type]} " \
               f"{said(node.input[1])}, else 'else'"
    return f"'then' when {condition!r} is true, else 'else'"


# -- dynamic quantization ----------------------------------------------------------------------

def _dequantize(label: str, graph: onnx.GraphProto, known: dict) -> bool:
    """DynamicQuantizeLSTM → LSTM, DynamicQuantizeLinear → MatMulInteger → Cast → Mul →
    MatMul, Gather(int8 table) → DequantizeLinear → Gather(float table). True if any."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producers = {o: n for n in graph.node for o in n.output if o}
    replaced: dict[int, list] = {}  # id of a node -> what stands in its place
    dropped: set[int] = set()
    tables: dict[str, np.ndarray] = {}

    def stored(name: str, what: str, where: str) -> np.ndarray:
        if name not in known:
            raise ValueError(f"{where}: its {what} {name!r} is not stored in the file")
        return known[name]

    for node in graph.node:
        where = f"{label}: {node.op_type} node {node.name or node.output[0]!r}"
        if node.op_type == "DynamicQuantizeLSTM" and node.domain == _MICROSOFT:
            inputs = list(node.input) + [""] * (12 - len(node.input))
            w = _per_direction(stored(inputs[1], "W", where), stored(inputs[8], "W_scale", where),
                               stored(inputs[9], "W_zero_point", where))
            r = _per_direction(stored(inputs[2], "R", where), stored(inputs[10], "R_scale", where),
                               stored(inputs[11], "R_zero_point", where))
            names = [f"{node.output[0] or node.name}.dequantized_{k}" for k in "WR"]
            tables[names[0]], tables[names[1]] = w, r
            lstm = helper.make_node("LSTM", [inputs[0], *names, *inputs[3:8]], list(node.output),
                                    name=node.name)
            lstm.attribute.extend(node.attribute)
            replaced[id(node)] = [lstm]
        elif node.op_type == "MatMulInteger" and node.domain in STANDARD_DOMAINS:
            replaced.update(_matmul_integer(where, node, consumers, producers, stored, tables,
                                            dropped))
        elif node.op_type == "DequantizeLinear" and node.domain in STANDARD_DOMAINS \
                and node.input[0] in producers and node.input[0] not in known:
            gather = producers[node.input[0]]
            if gather.op_type == "Gather" and gather.input[0] in known:
                table = FOLDABLE["DequantizeLinear"](
                    [known[gather.input[0]], *[known.get(n) for n in node.input[1:]]],
                    _attributes(node))
                name = f"{gather.input[0]}.dequantized"
                tables[name] = table
                replaced[id(gather)] = []
                replaced[id(node)] = [helper.make_node("Gather", [name, gather.input[1]],
                                                       list(node.output), name=gather.name,
                                                       axis=_attributes(gather).get("axis", 0))]
    if not replaced:
        return False
    nodes = []
    for node in graph.node:
        if id(node) in dropped:
            continue
        nodes.extend(replaced.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    for name, value in tables.items():
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    _drop_unused(graph)
    return True


def _per_direction(q: np.ndarray, scale: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """(D, I, G·H) int8 with a scale per direction (D,) or per column (D, G·H) -> the ONNX
    LSTM's float (D, G·H, I)."""
    scale, zero = np.asarray(scale, np.float32), np.asarray(zero).astype(np.int32)
    shape = (-1, 1, 1) if scale.ndim == 1 else (scale.shape[0], 1, -1)
    w = (q.astype(np.int32) - zero.reshape(shape)) * scale.reshape(shape)
    return np.ascontiguousarray(np.transpose(w, (0, 2, 1))).astype(np.float32)


def _matmul_integer(where, node, consumers, producers, stored, tables, dropped) -> dict:
    """x → DynamicQuantizeLinear → MatMulInteger(·, B) → Cast → Mul(·, x_scale·B_scale):
    the quantized form of x @ B, read back as MatMul(x, dequantized B)."""
    quantize = producers.get(node.input[0])
    casts = consumers.get(node.output[0], [])
    if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or len(casts) != 1 \
            or casts[0].op_type != "Cast" or len(consumers.get(casts[0].output[0], [])) != 1:
        raise ValueError(f"{where} is not the x → DynamicQuantizeLinear → MatMulInteger → Cast "
                         "→ Mul pattern of onnxruntime's dynamic quantization")
    (mul,) = consumers[casts[0].output[0]]
    scales = [n for n in mul.input if n != casts[0].output[0]]
    scale_node = producers.get(scales[0]) if len(scales) == 1 else None
    if mul.op_type != "Mul" or scale_node is None or scale_node.op_type != "Mul" \
            or quantize.output[1] not in scale_node.input:
        raise ValueError(f"{where}: its result is not scaled by the input's and the weights' "
                         "scales")
    (b_scale_name,) = [n for n in scale_node.input if n != quantize.output[1]] or [""]
    b = stored(node.input[1], "B", where)
    b_zero = stored(node.input[3], "B zero point", where) if len(node.input) > 3 \
        and node.input[3] else np.zeros((), np.int32)
    weights = _dequantize_linear(b, stored(b_scale_name, "B scale", where), b_zero,
                                 axis=-1)
    name = f"{node.input[1]}.dequantized"
    tables[name] = weights
    dropped.update({id(casts[0]), id(mul)})
    return {id(node): [helper.make_node("MatMul", [quantize.input[0], name], list(mul.output),
                                        name=node.name)]}


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Nodes whose outputs nothing reads (what quantized inputs and scales were computed by)."""
    while True:
        read = {n for node in graph.node for n in node.input} | {o.name for o in graph.output}
        kept = [node for node in graph.node if any(o in read for o in node.output if o)]
        if len(kept) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(kept)
