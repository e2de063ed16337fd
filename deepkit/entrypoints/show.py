"""`deepkit show model.pb [ATTRIBUTE...]`: the metadata of a frozen model; with attributes,
those DeePMD-kit's `dp show` prints, in its words."""

from __future__ import annotations

import argparse

# dp show's attributes, printed in this order whatever the order given.
ATTRIBUTES = ("model-branch", "type-map", "descriptor", "fitting-net", "size")


def _attribute(name: str) -> str:
    if name not in ATTRIBUTES:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {name!r} (choose from {', '.join(ATTRIBUTES)})"
        )
    return name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a frozen model (.pb)")
    parser.add_argument(
        "attributes",
        nargs="*",
        type=_attribute,
        metavar="ATTRIBUTE",
        help=f"print only these, as DeePMD-kit's dp show: {', '.join(ATTRIBUTES)} "
        "(none: a summary)",
    )
    parser.add_argument("--input", action="store_true", help="also print the training input (JSON)")


def run(args: argparse.Namespace) -> int:
    import json

    from deepkit.infer import FrozenModel

    dp = FrozenModel(args.model)
    if args.attributes:
        _attributes(dp, set(args.attributes))
    else:
        print(f"model type: {dp.model_type}")
        if dp.model_type != "ener":  # tensor models: the types that carry a tensor
            sel_type = dp.train_input["model"]["fitting_net"]["sel_type"]
            print(f"sel_type: {sel_type if sel_type is not None else list(range(dp.ntypes))}")
        print(f"type_map: {' '.join(dp.type_map)}")
        print(f"descriptor: {dp.descriptor}")
        print(f"rcut: {dp.rcut}")
        print(f"sel: {dp.sel}")
        print(f"compressed: {str(dp.compressed).lower()}")
        print(f"deepkit version: {dp.version}")
    if args.input:
        print(json.dumps(dp.train_input, indent=2))
    return 0


def _attributes(dp, wanted: set[str]) -> None:
    """dp show's lines for the wanted attributes (deepkit models are single-task)."""
    from deepkit.errors import InputError

    model = dp.train_input.get("model", {})
    print("This is a singletask model")
    if "model-branch" in wanted:
        raise InputError(
            "The 'model-branch' option requires a multitask model. The provided model does "
            "not meet this criterion."
        )
    if "type-map" in wanted:
        print(f"The type_map is {model.get('type_map', dp.type_map)}")
    if "descriptor" in wanted:
        print(f"The descriptor parameter is {model['descriptor']}")
    if "fitting-net" in wanted:
        print(f"The fitting_net parameter is {model['fitting_net']}")
    if "size" in wanted:
        from deepkit.infer.model_info import parameter_counts

        print("Parameter counts:")
        for part, count in sorted(parameter_counts(model).items()):
            print(f"Parameters in {part}: {count:,}")
