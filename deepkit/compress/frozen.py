"""Reading a frozen model's constants back: weights by variable name, metadata, tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deepkit.errors import InputError


def read_constants(path: str | Path) -> dict[str, np.ndarray]:
    """Every Const node of the frozen model at `path`, by node name."""
    from deepkit.model.graph_file import read_graph_def
    from deepkit.tfenv import tf

    graph_def = read_graph_def(path)
    return {
        node.name: tf.make_ndarray(node.attr["value"].tensor)
        for node in graph_def.node
        if node.op == "Const"
    }


def constant(consts: dict, name: str, path: str | Path):
    if name not in consts:
        raise InputError(
            f"{path}: not a deepkit model, or frozen by an older deepkit ({name} missing)"
        )
    value = consts[name]
    return value.item().decode() if value.dtype == object else value


def train_input(consts: dict, path: str | Path) -> dict:
    from deepkit.model import names

    return json.loads(constant(consts, names.ATTR_TRAIN_INPUT, path))


def restore_model(model, consts: dict, path: str | Path) -> None:
    """Statistics a model needs before build(): env-mat avg/std, min_nbor_dist, and the
    tables when the frozen model is compressed."""
    from deepkit.compress.table import Table
    from deepkit.model import names

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
    from deepkit.tfenv import tf

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
