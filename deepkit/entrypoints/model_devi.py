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


def run(args: argparse.Namespace) -> int:
    from deepkit.data.discover import expand_systems
    from deepkit.errors import InputError
    from deepkit.infer import DeepPot
    from deepkit.infer.model_devi import model_devi_table, write_model_devi

    if len(args.models) < 2:
        raise InputError("-m: model deviation needs at least two models")
    models = [DeepPot(m) for m in args.models]
    table = model_devi_table(models, expand_systems(args.system))
    write_model_devi(args.output, table)
    print(f"wrote {args.output}: {len(table)} frames")
    return 0
