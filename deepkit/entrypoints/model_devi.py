"""`deepkit model-devi`: the deviation of an ensemble of frozen models, frame by frame."""

from __future__ import annotations

import argparse

from deepkit.entrypoints.common import add_systems_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--models", nargs="+", required=True, help="frozen models (2 or more)"
    )
    add_systems_argument(parser)
    parser.add_argument("-o", "--output", default="model_devi.out", help="output file")
    parser.add_argument(
        "-f",
        "--frequency",
        type=int,
        default=1,
        help="steps between the trajectory's frames: the step column is the frame's index "
        "in its system times this (default 1)",
    )


def run(args: argparse.Namespace) -> int:
    from deepkit.data.discover import expand_systems
    from deepkit.errors import InputError
    from deepkit.infer import DeepPot
    from deepkit.infer.model_devi import model_devi_system, write_model_devi

    if len(args.models) < 2:
        raise InputError("-m: model deviation needs at least two models")
    if args.frequency <= 0:
        raise InputError(f"-f/--frequency: must be positive, got {args.frequency}")
    models = [DeepPot(m) for m in args.models]
    systems = expand_systems(args.system)
    tables = [(s.path, model_devi_system(models, s, args.frequency)) for s in systems]
    write_model_devi(args.output, tables)
    frames = sum(len(table) for _, table in tables)
    print(f"wrote {args.output}: {frames} frames of {len(systems)} system(s)")
    return 0
