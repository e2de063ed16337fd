"""The frozen model format, in one place: writing a session's graph as one constant
GraphDef with its metadata, and reading it back (constants by name, the training input,
statistics and tables for a model object, weights into a session).

Metadata constants (names.py): type_map, rcut, descriptor, sel, compressed, version,
train_input (the normalised input, JSON), model_type, numb_fparam and numb_aparam. The C
API reads the last three directly; models frozen by deepkit 0.3 lack them and are read as
energy models whose parameter counts come from their training input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from deepkit import __version__
from deepkit.atomic_file import write_atomic
from deepkit.errors import InputError
from deepkit.model import names
from deepkit.tfenv import tf


def read_graph_def(path: str | Path):
    """The tf.compat.v1.GraphDef stored at `path` (InputError if unreadable or not one)."""
    path = Path(path)
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except OSError as err:
        raise InputError(f"{path}: cannot read the model ({err.strerror})") from None
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise InputError(f"{path}: not a frozen model ({err})") from None
    return graph_def


def read_constants(path: str | Path) -> dict[str, np.ndarray]:
    """Every Const node of the frozen model at `path`, by node name, its metadata checked."""
    consts = graph_constants(read_graph_def(path), path)
    check_metadata(consts, path)
    return consts


def graph_constants(graph_def, path: str | Path) -> dict[str, np.ndarray]:
    """Every Const node of a GraphDef read from `path`, by node name."""
    try:
        return {
            node.name: tf.make_ndarray(node.attr["value"].tensor)
            for node in graph_def.node
            if node.op == "Const"
        }
    except (TypeError, ValueError) as err:  # a tensor proto that does not match its shape
        raise InputError(f"{path}: not a frozen model (a malformed constant: {err})") from None


# The metadata constants' kinds (numpy dtype kind, "S" for strings) and ranks, and the
# bounds of a sane model (the C API's dk_load holds to the same): a crafted or damaged file
# must give one line, not a traceback, a garbage value or a huge allocation.
_METADATA = {
    names.ATTR_TYPE_MAP: ("S", 0),
    names.ATTR_RCUT: ("f", 0),
    names.ATTR_DESCRIPTOR: ("S", 0),
    names.ATTR_SEL: ("i", 1),
    names.ATTR_COMPRESSED: ("b", 0),
    names.ATTR_VERSION: ("S", 0),
    names.ATTR_TRAIN_INPUT: ("S", 0),
    names.ATTR_MODEL_TYPE: ("S", 0),
    names.ATTR_NUMB_FPARAM: ("i", 0),
    names.ATTR_NUMB_APARAM: ("i", 0),
    names.ATTR_COMPRESS: ("S", 0),
    names.ATTR_SEL_TYPE: ("i", 1),
}
_KIND_NAMES = {"S": "a string", "f": "a float", "i": "an integer", "b": "a bool"}
MAX_TYPES, MAX_PARAMS, MAX_NEIGHBORS = 1024, 1 << 16, 1 << 20


def check_metadata(values: dict, path: str | Path) -> None:
    """InputError unless every metadata constant among `values` (name -> value, as
    session.run or make_ndarray give them) has its type and rank, and a sane value."""
    arrays = {}
    for name, value in values.items():
        if name not in _METADATA:
            continue
        array = np.asarray(value)
        kind = "S" if array.dtype.kind in "OSU" else array.dtype.kind
        kind = "i" if kind == "u" else kind
        want, rank = _METADATA[name]
        if kind != want or array.ndim != rank:
            raise InputError(
                f"{path}: {name} must be {_KIND_NAMES[want]} "
                f"{'scalar' if rank == 0 else 'vector'}, got {array.dtype} of shape {array.shape}"
            )
        if kind == "S" and array.dtype.kind == "O" and not isinstance(array.item(), bytes):
            raise InputError(f"{path}: {name} must be a string")
        arrays[name] = array

    def refuse(name, what):
        raise InputError(f"{path}: {name} {what}")

    ntypes = None
    if names.ATTR_TYPE_MAP in arrays:
        ntypes = len(arrays[names.ATTR_TYPE_MAP].item().split())
        if not 1 <= ntypes <= MAX_TYPES:
            refuse(names.ATTR_TYPE_MAP, f"must name 1 to {MAX_TYPES} types, got {ntypes}")
    if names.ATTR_RCUT in arrays:
        rcut = float(arrays[names.ATTR_RCUT])
        if not (np.isfinite(rcut) and rcut > 0):
            refuse(names.ATTR_RCUT, f"must be a finite positive number, got {rcut}")
    for name in (names.ATTR_NUMB_FPARAM, names.ATTR_NUMB_APARAM):
        if name in arrays and not 0 <= int(arrays[name]) <= MAX_PARAMS:
            refuse(name, f"must lie in [0, {MAX_PARAMS}], got {int(arrays[name])}")
    if names.ATTR_SEL in arrays:
        sel = arrays[names.ATTR_SEL].astype(np.int64)
        # One block per environment matrix: ntypes counts, or one for a type-blind list.
        if len(sel) == 0:
            refuse(names.ATTR_SEL, "is empty: it needs at least one count")
        if sel.min() < 0 or sel.sum() > MAX_NEIGHBORS:
            refuse(
                names.ATTR_SEL,
                f"must be >= 0 with a sum of at most {MAX_NEIGHBORS}, got min {sel.min()} and "
                f"sum {sel.sum()}",
            )
    for name in (names.ATTR_TRAIN_INPUT, names.ATTR_COMPRESS):
        if name in arrays:
            try:
                parsed = json.loads(arrays[name].item())
            except ValueError as err:
                refuse(name, f"is not JSON ({err})")
            if not isinstance(parsed, dict):
                refuse(name, "is not a JSON object")


def check_finite(arrays: dict[str, np.ndarray], source: str | Path) -> None:
    """InputError naming the first floating-point weight with a NaN or inf (a diverged run's
    weights must not become a model that evaluates to NaN). Anonymous constants (`Const_N`,
    e.g. an infinite bound the graph uses on purpose) are not weights."""
    for name, value in arrays.items():
        if re.fullmatch(r"Const(_\d+)?", name.rsplit("/", 1)[-1]):
            continue
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise InputError(
                f"{source}: {name} holds NaN or inf: the weights diverged; freeze an earlier "
                "checkpoint (train --restart from it with a lower start_lr)"
            )


def constant(consts: dict, name: str, path: str | Path):
    """consts[name] (strings decoded), or an InputError naming the model file."""
    if name not in consts:
        raise InputError(
            f"{path}: not a deepkit model, or frozen by an older deepkit ({name} missing)"
        )
    value = consts[name]
    return value.item().decode() if value.dtype == object else value


def train_input(consts: dict, path: str | Path) -> dict:
    """The normalised training input the model was trained with."""
    return json.loads(constant(consts, names.ATTR_TRAIN_INPUT, path))


def restore_model(model, consts: dict, path: str | Path) -> None:
    """Statistics a model needs before build(): env-mat avg/std, min_nbor_dist, and the
    tables when the frozen model is compressed."""
    from deepkit.nn.tabulate import Table

    descriptor = model.descriptor
    descriptor.load_state(consts, str(path))
    model.min_nbor_dist = float(consts.get(names.MIN_NBOR_DIST, -1.0))
    if bool(constant(consts, names.ATTR_COMPRESSED, path)):
        descriptor.tables = {
            scope: Table(
                constant(consts, f"{names.TABLE_PREFIX}/{scope}/table", path),
                constant(consts, f"{names.TABLE_PREFIX}/{scope}/info", path),
            )
            for scope in descriptor.net_scopes()
        }


def load_variables(sess, consts: dict, path: str | Path, skip=()) -> int:
    """Assign every global variable of the session's graph (but those whose name contains
    one of `skip`) the frozen constant of the same name. Returns how many were set."""
    count = 0
    for var in tf.compat.v1.global_variables():
        name = var.op.name
        if any(s in name for s in skip):
            continue
        if name not in consts:
            raise InputError(f"{path}: has no weights for {name} (a different model?)")
        value = consts[name]
        if tuple(value.shape) != tuple(var.shape):
            raise InputError(
                f"{path}: {name} is {tuple(value.shape)} there but {tuple(var.shape)} here "
                "(a different model?)"
            )
        sess.run(var.initializer, {var.initial_value: value})
        count += 1
    return count


def add_metadata(model, config: dict, compress: dict | None = None) -> None:
    """The model_attr/* constants of deepkit.model.names, in the default graph."""
    descriptor = model.descriptor.metadata()
    tf.constant(" ".join(model.type_map), name=names.ATTR_TYPE_MAP)
    tf.constant(float(descriptor["rcut"]), tf.float64, name=names.ATTR_RCUT)
    tf.constant(descriptor["type"], name=names.ATTR_DESCRIPTOR)
    tf.constant(np.array(descriptor["sel"], np.int32), name=names.ATTR_SEL)
    tf.constant(compress is not None, name=names.ATTR_COMPRESSED)
    tf.constant(__version__, name=names.ATTR_VERSION)
    tf.constant(json.dumps(config), name=names.ATTR_TRAIN_INPUT)
    tf.constant(model.model_type, name=names.ATTR_MODEL_TYPE)
    tf.constant(np.int32(model.fitting.numb_fparam), name=names.ATTR_NUMB_FPARAM)
    tf.constant(np.int32(model.fitting.numb_aparam), name=names.ATTR_NUMB_APARAM)
    for name, value in model.extra_metadata().items():
        tf.constant(value, name=name)
    if compress is not None:
        tf.constant(json.dumps(compress), name=names.ATTR_COMPRESS)


def write_frozen(sess, output: str | Path, nodes) -> Path:
    """Fold the session's variables into constants, keep what the nodes (a model's
    frozen_nodes: outputs and metadata) need, and write the GraphDef atomically."""
    graph = sess.graph
    keep = [n for n in nodes if _has_op(graph, n)]
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        sess, graph.as_graph_def(), keep
    )
    _strip_default_dk_attrs(frozen, graph)
    return write_atomic(output, frozen.SerializeToString())


def _strip_default_dk_attrs(graph_def, graph) -> None:
    """Drop deepkit op attrs that hold their default (DkNeighborList's mixed_types false):
    the model then also loads with a deepkit built before the attr existed, and importing
    fills the default back in. The op definitions come from the session's graph, where
    every Dk node of the frozen one was built."""
    for node in graph_def.node:
        if not node.op.startswith("Dk"):
            continue
        op_def = graph.get_operation_by_name(node.name).op_def
        for attr in op_def.attr:
            if (
                attr.name in node.attr
                and attr.HasField("default_value")
                and node.attr[attr.name] == attr.default_value
            ):
                del node.attr[attr.name]


def _has_op(graph, name: str) -> bool:
    try:
        graph.get_operation_by_name(name)
    except KeyError:
        return False
    return True


# specialise_for_cpu: TensorFlow's product -> (deepkit's, its attrs from TensorFlow's, the
# attrs that give TensorFlow's element types). The Dk ops declare transpose_a / transpose_b
# only; TensorFlow's gradient hints (grad_*) are dropped, its internal attrs (_class) kept.
_CPU_PRODUCTS = {
    "MatMul": ("DkMatMul", {"transpose_a": "transpose_a", "transpose_b": "transpose_b"}, ("T",)),
    "BatchMatMul": ("DkBatchMatMul", {"adj_x": "transpose_a", "adj_y": "transpose_b"}, ("T",)),
    "BatchMatMulV2": ("DkBatchMatMul", {"adj_x": "transpose_a", "adj_y": "transpose_b"}, ("T",)),
    "BatchMatMulV3": (
        "DkBatchMatMul",
        {"adj_x": "transpose_a", "adj_y": "transpose_b"},
        ("Ta", "Tb", "Tout"),
    ),
}
_GRADIENT_HINTS = frozenset({"grad_a", "grad_b", "grad_x", "grad_y"})
_DT_DOUBLE = 2  # types.proto


def specialise_for_cpu(graph_def):
    """A copy of the frozen `graph_def` whose float64 MatMul / BatchMatMul(V2, V3) nodes
    run deepkit's DkMatMul / DkBatchMatMul (Eigen built for AVX2/FMA, no GPU kernel).

    For loading on a CPU that has AVX2/FMA (deepkit.ops.cpu_products_preferred); the C API
    does the same in op_src/capi/graph_rewrite.cc. Only nodes placed on the CPU or nowhere
    are changed, and only where every attr is one the rewrite knows. DkBatchMatMul takes
    3-D operands of one batch size, as every batched product deepkit builds. Nodes in the
    graph's function library are changed alike: their outputs are named as TensorFlow's
    (DkMatMul "product", DkBatchMatMul "output"), so references to them stay valid."""
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        _specialise_node(node)
    for function in out.library.function:  # loop bodies (deepkit.nn.streamed)
        for node in function.node_def:
            _specialise_node(node)
    return out


def _specialise_node(node) -> None:
    if node.op not in _CPU_PRODUCTS or not _on_cpu(node.device):
        return
    op, renamed, type_attrs = _CPU_PRODUCTS[node.op]
    known = renamed.keys() | set(type_attrs) | _GRADIENT_HINTS
    if any(key not in known and not key.startswith("_") for key in node.attr):
        return  # an attr from a later TensorFlow: leave the node as it is
    if not all(_is_double(node.attr, key) for key in type_attrs):
        return
    for key in (*type_attrs, *(_GRADIENT_HINTS & node.attr.keys())):
        del node.attr[key]
    for old, new in renamed.items():
        if old in node.attr and old != new:
            node.attr[new].CopyFrom(node.attr[old])
            del node.attr[old]
    node.op = op


def _on_cpu(device: str) -> bool:
    """Placed nowhere ("") or on a CPU ("/device:CPU:0", "/job:.../device:CPU:0", "/cpu:0");
    op_src/capi/graph_rewrite.cc reads device strings the same way."""
    if not device:
        return True
    last = device.rsplit("/", 1)[-1]
    if last.lower().startswith("device:"):
        last = last[len("device:") :]
    return last.split(":", 1)[0].upper() == "CPU"


def _is_double(attrs, key: str) -> bool:
    value = attrs.get(key)
    return value is not None and value.WhichOneof("value") == "type" and value.type == _DT_DOUBLE
