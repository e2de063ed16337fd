"""Model compression (`deepkit compress`): a frozen model -> a frozen model whose embedding
nets are quintic tables evaluated by one fused op (DESIGN.md "Compression")."""

from __future__ import annotations

import math
import time
from pathlib import Path

from deepkit.descriptor.base import Tabulable
from deepkit.errors import InputError
from deepkit.model import names
from deepkit.model.base import make_model
from deepkit.model.frozen import (
    add_metadata,
    check_finite,
    load_variables,
    read_constants,
    restore_model,
    train_input,
    write_frozen,
)
from deepkit.nn.tabulate import table_range, tabulate
from deepkit.tfenv import tf


def compress(
    model_path: str | Path,
    output: str | Path,
    step: float = 0.01,
    extrapolate: float = 5.0,
    check_frequency: int = -1,
    min_nbor_dist: float | None = None,
    log=print,
) -> Path:
    """Tabulate every embedding net of the frozen model at `model_path` (inner step `step`,
    10 * step up to `extrapolate` times the upper bound) and write the compressed model.
    min_nbor_dist overrides the closest-pair distance stored with the model."""
    if not 0 < step < math.inf:
        raise InputError(f"--step must be positive and finite, got {step}")
    if not 1 < extrapolate < math.inf:
        raise InputError(f"--extrapolate must be larger than 1 and finite, got {extrapolate}")
    if min_nbor_dist is not None and not 0 < min_nbor_dist < math.inf:
        raise InputError(f"--min-nbor-dist must be positive and finite, got {min_nbor_dist}")
    started = time.perf_counter()
    consts = read_constants(model_path)
    check_finite(consts, model_path)
    if bool(consts.get(names.ATTR_COMPRESSED, False)):
        raise InputError(f"{model_path}: already compressed")
    config = train_input(consts, model_path)
    model = make_model(config["model"])
    descriptor = model.descriptor
    why = (
        descriptor.untabulable()
        if isinstance(descriptor, Tabulable)
        else f"descriptor {descriptor.name!r} cannot be compressed (its embedding nets cannot "
        "be tabulated)"
    )
    if why:
        raise InputError(f"{model_path}: {why}")
    restore_model(model, consts, model_path)
    if min_nbor_dist is not None:
        model.min_nbor_dist = min_nbor_dist
    if not model.min_nbor_dist > 0:
        raise InputError(
            f"{model_path}: the training data's closest pair distance is not stored with this "
            "model; pass --min-nbor-dist (`deepkit neighbor-stat -s DATA` prints it)"
        )
    ranges = descriptor.input_ranges(model.min_nbor_dist)
    tables = {}
    for scope, (lower, upper) in ranges.items():
        _, activation, _ = descriptor.net_spec(scope)
        layers = descriptor.net_layers(scope, consts)
        lower, upper, upper_ext = table_range(lower, upper, extrapolate)
        _check_table_size(scope, (upper - lower) / step + (upper_ext - upper) / (10 * step))
        tables[scope] = tabulate(layers, activation, lower, upper, upper_ext, step, 10 * step)
        info = tables[scope].info
        log(
            f"{scope}: input [{lower:.4f}, {upper:.4f}] step {step:g}, extrapolated to "
            f"{info[2]:.4f} step {10 * step:g}: {int(info[5] + info[6])} intervals"
        )
    descriptor.tables = tables
    settings = {
        "step": step,
        "extrapolate": extrapolate,
        "check_frequency": check_frequency,
        "min_nbor_dist": model.min_nbor_dist,
    }
    graph = tf.Graph()
    with graph.as_default():
        # In one piece: tables keep no per-slot activations (2.0 GB at 12,288 water atoms),
        # and a streamed compressed model measured up to 1.3x slower (BENCHMARKS.md).
        model.build_inference()
        add_metadata(model, config, compress=settings)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        load_variables(
            sess, consts, model_path, skip=(names.MIN_NBOR_DIST, names.TABLE_PREFIX + "/")
        )
        path = write_frozen(sess, output, model.frozen_nodes)
    table_bytes = sum(t.nbytes for t in tables.values())
    log(
        f"compressed {len(tables)} embedding nets into tables of {table_bytes / 2**20:.1f} MiB "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path


# A net's table holds 6 coefficients per interval and output neuron: 2e6 intervals of a
# 100-wide net are ~10 GB. Far above what any sane step and closest pair give (~1,300).
_MAX_INTERVALS = 2_000_000


def _check_table_size(scope: str, intervals: float) -> None:
    if not intervals <= _MAX_INTERVALS:
        raise InputError(
            f"{scope}: the table would need {intervals:.3g} intervals (at most "
            f"{_MAX_INTERVALS:,}): raise --step, or check --min-nbor-dist"
        )
