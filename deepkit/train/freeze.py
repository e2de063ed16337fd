"""Freezing (`deepkit freeze`): a training checkpoint -> one constant-folded GraphDef (.pb)
holding only what inference needs, with the metadata constants of deepkit.model.names."""

from __future__ import annotations

import json
from pathlib import Path

from deepkit.config import normalize
from deepkit.errors import InputError
from deepkit.model import names
from deepkit.model.base import make_model
from deepkit.model.frozen import add_metadata, check_finite, write_frozen
from deepkit.nn.streamed import streaming_inference
from deepkit.nn.tabulate import Table
from deepkit.tfenv import tf
from deepkit.train.checkpoint import checkpoint_path


def freeze(checkpoint: str | Path, output: str | Path) -> Path:
    """Freeze the latest checkpoint of a training folder (or a checkpoint prefix). The
    training input comes from the checkpoint (or, for deepkit 0.3 runs, the folder's
    out.json). Written atomically; returns the output path."""
    prefix = checkpoint_path(str(checkpoint))
    config = normalize(_training_input(prefix))
    model = make_model(config["model"])
    saved = {name for name, _ in tf.train.list_variables(prefix)}
    compress = _tables_from_checkpoint(model, prefix, saved)
    graph = tf.Graph()
    with graph.as_default():
        with streaming_inference():
            model.build_inference()
        add_metadata(model, config, compress)
        init = tf.compat.v1.global_variables_initializer()
        variables = tf.compat.v1.global_variables()
        missing = [v.op.name for v in variables if v.op.name not in saved]
        # Checkpoints of older deepkit versions lack min_nbor_dist: it stays "unknown".
        if set(missing) - {names.MIN_NBOR_DIST}:
            raise InputError(f"{prefix}: checkpoint lacks {', '.join(missing)} (another model?)")
        saver = tf.compat.v1.train.Saver([v for v in variables if v.op.name in saved])
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        saver.restore(sess, prefix)
        floats = [v for v in variables if v.dtype.base_dtype.is_floating]
        check_finite(dict(zip([v.op.name for v in floats], sess.run(floats), strict=True)), prefix)
        return write_frozen(sess, output, model.frozen_nodes)


def _tables_from_checkpoint(model, prefix: str, saved: set) -> dict | None:
    """A fine-tuned compressed model (train --init-frz-model) keeps its tables in its
    checkpoints: give them to the descriptor; returns the compress settings, or None."""
    if not any(name.startswith(names.TABLE_PREFIX + "/") for name in saved):
        return None
    reader = tf.train.load_checkpoint(prefix)
    model.descriptor.tables = {
        scope: Table(
            reader.get_tensor(f"{names.TABLE_PREFIX}/{scope}/table"),
            reader.get_tensor(f"{names.TABLE_PREFIX}/{scope}/info"),
        )
        for scope in model.descriptor.net_scopes()
    }
    step = float(next(iter(model.descriptor.tables.values())).info[3])
    return {"step": step, "check_frequency": -1, "fine_tuned": True}


def _training_input(prefix: str) -> dict:
    """The normalised input a checkpoint was trained with."""
    reader = tf.train.load_checkpoint(prefix)
    if reader.has_tensor(names.TRAIN_INPUT):
        return json.loads(reader.get_tensor(names.TRAIN_INPUT).decode())
    folder = Path(prefix).parent
    if not (folder / "out.json").exists():
        raise InputError(
            f"{prefix}: the checkpoint holds no training input and {folder} no out.json"
        )
    return json.loads((folder / "out.json").read_text())
