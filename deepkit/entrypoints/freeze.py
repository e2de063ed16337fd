"""`deepkit freeze`: a training checkpoint -> one frozen model (.pb)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--checkpoint",
        "--checkpoint-folder",
        dest="checkpoint",
        default=".",
        help="training folder (its latest checkpoint), or a checkpoint prefix with or without "
        "its step (run/model.ckpt-1000, run/model.ckpt: the latest)",
    )
    parser.add_argument("-o", "--output", default="frozen_model.pb", help="the frozen model")


def run(args: argparse.Namespace) -> int:
    from deepkit.train.freeze import freeze

    path = freeze(args.checkpoint, args.output)
    print(f"wrote {path}")
    return 0
