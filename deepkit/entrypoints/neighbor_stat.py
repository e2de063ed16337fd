"""`deepkit neighbor-stat`: the largest neighbour count per type and the closest pair."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deepkit.entrypoints.common import add_systems_argument
from deepkit.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_systems_argument(parser)
    parser.add_argument(
        "-r",
        "--rcut",
        type=float,
        nargs="+",
        default=[6.0],
        help="cut-off radius, Angstrom; several (the parts of a hybrid) print one block each",
    )
    parser.add_argument(
        "-t",
        "--type-map",
        nargs="+",
        help="element of each type (default: from the systems' type_map.raw)",
    )
    parser.add_argument(
        "--mixed-type",
        action="store_true",
        help="count neighbours of any type together (the sel of se_atten / se_atten_v2)",
    )


def run(args: argparse.Namespace) -> int:
    from deepkit.data.discover import expand_systems
    from deepkit.data.neighbor_stat import auto_sel, neighbor_stat

    for rcut in args.rcut:
        if rcut <= 0:
            raise InputError(f"--rcut: must be positive, got {rcut}")
    systems = expand_systems(args.system)
    type_map = args.type_map or _union_type_map(systems)
    nframes = sum(s.nframes for s in systems)
    for k, rcut in enumerate(args.rcut):
        max_count, min_dist = neighbor_stat(systems, type_map, rcut, args.mixed_type)
        if k:
            print()
        print(f"{len(systems)} systems, {nframes} frames, rcut {rcut} A")
        print("type  max neighbours within rcut")
        for name, count in zip(["any"] if args.mixed_type else type_map, max_count):
            print(f"{name:>4}  {count}")
        print(f"min_nbor_dist: {min_dist:.6f}")
        print(f"max_nbor_size: {[int(c) for c in max_count]}")
        print(f'sel for "auto" (x1.1, multiple of 4): {auto_sel(max_count)}')
    return 0


def _union_type_map(systems: Sequence) -> list[str]:
    names: list[str] = []
    for system in systems:
        if system.type_map is None:
            raise InputError(f"{system.path}: no type_map.raw; give the elements with -t")
        names += [n for n in system.type_map if n not in names]
    return names
