"""`deepkit test`: a frozen model's errors on labelled systems (DeePMD-kit's `dp test`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deepkit.entrypoints.common import add_systems_argument
from deepkit.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, help="frozen model (.pb)")
    add_systems_argument(parser)
    parser.add_argument(
        "-n", "--numb-test", type=int, default=None, help="frames per system (default: all)"
    )
    parser.add_argument(
        "-d", "--detail-file", help="prefix of the detail files (.e.out, .f.out, ...)"
    )
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--plot", help="write an energy / force parity plot (PNG)")


def run(args: argparse.Namespace) -> int:
    from deepkit.data.discover import expand_systems
    from deepkit.infer import DeepPot
    from deepkit.infer.accuracy import (
        evaluate_system,
        figures,
        parity_plot,
        pooled,
        write_details,
    )

    if args.numb_test is not None and args.numb_test <= 0:
        raise InputError(f"--numb-test: must be positive, got {args.numb_test}")
    dp = DeepPot(args.model)
    systems = expand_systems(args.system)
    if args.detail_file:
        for suffix in ("e", "e_peratom", "f", "v"):
            Path(f"{args.detail_file}.{suffix}.out").unlink(missing_ok=True)
    results, report = [], {"systems": {}}
    for system in systems:
        result = evaluate_system(dp, system, args.numb_test)
        results.append(result)
        numbers = figures(result)
        report["systems"][system.path] = numbers
        _print(system.path, numbers)
        if args.detail_file:
            write_details(args.detail_file, system.path, result)
    report["all"] = pooled(results)
    if len(systems) > 1:
        _print(f"all {len(systems)} systems", report["all"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.plot:
        parity_plot(results, args.plot)
    return 0


def _print(name: str, numbers: dict) -> None:
    print(f"# {name}: {numbers['nframes']} frames")
    units = {
        "energy": "eV",
        "energy_per_atom": "eV",
        "force": "eV/A",
        "virial": "eV",
        "virial_per_atom": "eV",
    }
    labels = {
        "energy": "Energy",
        "energy_per_atom": "Energy/Natoms",
        "force": "Force",
        "virial": "Virial",
        "virial_per_atom": "Virial/Natoms",
    }
    for key, label in labels.items():
        if key in numbers:
            for stat in ("mae", "rmse"):
                print(f"{label + ' ' + stat.upper():<20}: {numbers[key][stat]:.6e} {units[key]}")
