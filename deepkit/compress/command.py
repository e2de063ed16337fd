"""`deepkit compress`: a frozen model -> a frozen model whose embedding nets are quintic tables
evaluated by one fused op (DESIGN.md "Compression")."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from deepkit.errors import InputError


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
    from deepkit.compress.table import layers_of, table_range, tabulate
    from deepkit.descriptor.base import Tabulable
    from deepkit.model import names
    from deepkit.model.ener_model import EnergyModel
    from deepkit.model.frozen import (
        add_metadata,
        load_variables,
        read_constants,
        restore_model,
        train_input,
        write_frozen,
    )
    from deepkit.tfenv import tf

    if not step > 0:
        raise InputError(f"--step must be positive, got {step}")
    if not extrapolate > 1:
        raise InputError(f"--extrapolate must be larger than 1, got {extrapolate}")
    started = time.perf_counter()
    consts = read_constants(model_path)
    if bool(consts.get(names.ATTR_COMPRESSED, False)):
        raise InputError(f"{model_path}: already compressed")
    config = train_input(consts, model_path)
    model = EnergyModel(config["model"])
    if not isinstance(model.descriptor, Tabulable):
        raise InputError(
            f"{model_path}: descriptor {model.descriptor.name!r} cannot be compressed (its "
            "embedding nets cannot be tabulated)"
        )
    restore_model(model, consts, model_path)
    if min_nbor_dist is not None:
        model.min_nbor_dist = min_nbor_dist
    if not model.min_nbor_dist > 0:
        raise InputError(
            f"{model_path}: the training data's closest pair distance is not stored with this "
            "model; pass --min-nbor-dist (`deepkit neighbor-stat -s DATA` prints it)"
        )
    ranges = model.descriptor.input_ranges(model.min_nbor_dist)
    neuron, activation, resnet_dt = model.descriptor.net_spec()
    tables = {}
    for scope, (lower, upper) in ranges.items():
        layers = layers_of(consts, scope, len(neuron), resnet_dt)
        lower, upper, upper_ext = table_range(lower, upper, extrapolate)
        tables[scope] = tabulate(layers, activation, lower, upper, upper_ext, step, 10 * step)
        info = tables[scope].info
        log(
            f"{scope}: input [{lower:.4f}, {upper:.4f}] step {step:g}, extrapolated to "
            f"{info[2]:.4f} step {10 * step:g}: {int(info[5] + info[6])} intervals"
        )
    model.descriptor.tables = tables
    settings = {
        "step": step,
        "extrapolate": extrapolate,
        "check_frequency": check_frequency,
        "min_nbor_dist": model.min_nbor_dist,
    }
    graph = tf.Graph()
    with graph.as_default():
        model.build_inference()
        add_metadata(model, config, compress=settings)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        load_variables(
            sess, consts, model_path, skip=(names.MIN_NBOR_DIST, names.TABLE_PREFIX + "/")
        )
        path = write_frozen(sess, output)
    table_bytes = sum(t.nbytes for t in tables.values())
    log(
        f"compressed {len(tables)} embedding nets into tables of {table_bytes / 2**20:.1f} MiB "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", default="frozen_model.pb", help="the frozen model")
    parser.add_argument(
        "-o", "--output", default="frozen_model_compressed.pb", help="the compressed model"
    )
    parser.add_argument(
        "-s", "--step", type=float, default=0.01, help="table step inside the training range"
    )
    parser.add_argument(
        "-e",
        "--extrapolate",
        type=float,
        default=5.0,
        help="the table reaches this many times the training range's upper bound, with 10x the step",
    )
    parser.add_argument(
        "-f",
        "--check-frequency",
        type=int,
        default=-1,
        help="when fine-tuning the compressed model (train --init-frz-model), check every N "
        "steps whether inputs left the table; -1: never",
    )
    parser.add_argument(
        "--min-nbor-dist",
        type=float,
        help="closest pair distance of the training data, Angstrom, for models that do not "
        "store it (frozen by deepkit < 0.2); `deepkit neighbor-stat` prints it",
    )


def run(args: argparse.Namespace) -> int:
    path = compress(
        args.input,
        args.output,
        args.step,
        args.extrapolate,
        args.check_frequency,
        args.min_nbor_dist,
    )
    print(f"wrote {path}")
    return 0
