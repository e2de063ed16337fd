"""`deepkit show model.pb`: the metadata of a frozen model."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a frozen model (.pb)")
    parser.add_argument("--input", action="store_true", help="also print the training input (JSON)")


def run(args: argparse.Namespace) -> int:
    import json

    from deepkit.infer import DeepPot

    dp = DeepPot(args.model)
    print(f"model type: {dp.model_type}")
    print(f"type_map: {' '.join(dp.type_map)}")
    print(f"descriptor: {dp.descriptor}")
    print(f"rcut: {dp.rcut}")
    print(f"sel: {dp.sel}")
    print(f"compressed: {str(dp.compressed).lower()}")
    print(f"deepkit version: {dp.version}")
    if args.input:
        print(json.dumps(dp.train_input, indent=2))
    return 0
