"""`deepkit compress`: a frozen model -> a compressed frozen model (tabulated embedding nets)."""

from __future__ import annotations

import argparse


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
    from deepkit.compress.model import compress

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
