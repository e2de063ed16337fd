"""`deepkit plot lcurve.out`: the learning curve of a training run as a PNG."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "lcurve", nargs="?", default="lcurve.out", help="the learning curve (default lcurve.out)"
    )
    parser.add_argument(
        "-o", "--output", default=None, help="the PNG (default: the lcurve's name with .png)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepkit.infer.plots import plot_lcurve

    output = args.output or str(Path(args.lcurve).with_suffix(".png"))
    print(f"wrote {plot_lcurve(args.lcurve, output)}")
    return 0
