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
        "-n",
        "--numb-test",
        type=int,
        default=0,
        help="frames per system, the first in set order (default 0: all, as DeePMD-kit)",
    )
    parser.add_argument(
        "--shuffle-test",
        action="store_true",
        help="take the frames in random order (with -n: a random sample)",
    )
    parser.add_argument(
        "-r", "--rand-seed", type=int, default=None, help="seed of --shuffle-test's order"
    )
    parser.add_argument(
        "-d",
        "--detail-file",
        help="prefix of the detail files (.e.out, .e_peratom.out, .f.out, .v.out, ...)",
    )
    parser.add_argument(
        "-a",
        "--atomic",
        action="store_true",
        help="also the atomic energies' errors (needs atom_ener.npy labels)",
    )
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--plot", help="write a parity plot (PNG): energy, force, virial")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from deepkit.data.discover import expand_systems
    from deepkit.infer import DeepPot
    from deepkit.infer.accuracy import evaluate_system, figures, pooled, write_details

    if args.numb_test < 0:
        raise InputError(f"--numb-test: must be 0 (all frames) or more, got {args.numb_test}")
    if args.plot:
        from deepkit.infer.plots import pyplot

        pyplot()  # without matplotlib, say so before the work
    dp = DeepPot(args.model)
    systems = expand_systems(args.system)
    if args.detail_file:
        for suffix in ("e", "e_peratom", "f", "v", "v_peratom"):
            Path(f"{args.detail_file}.{suffix}.out").unlink(missing_ok=True)
    # One generator over the systems in turn, seeded as DeePMD-kit seeds its own: the same
    # seed picks the same frames.
    rng = None
    if args.shuffle_test:
        seed = None if args.rand_seed is None else args.rand_seed % 2**32
        rng = np.random.RandomState(seed)
    results, report = [], {"systems": {}}
    for system in systems:
        result = evaluate_system(dp, system, args.numb_test or None, rng, args.atomic)
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
        from deepkit.infer.plots import parity_plot

        parity_plot(results, args.plot, [system.path for system in systems])
    return 0


def _print(name: str, numbers: dict) -> None:
    print(f"# {name}: {numbers['nframes']} frames")
    units = {
        "energy": "eV",
        "energy_per_atom": "eV",
        "force": "eV/A",
        "virial": "eV",
        "virial_per_atom": "eV",
        "atom_energy": "eV",
    }
    labels = {
        "energy": "Energy",
        "energy_per_atom": "Energy/Natoms",
        "force": "Force",
        "virial": "Virial",
        "virial_per_atom": "Virial/Natoms",
        "atom_energy": "Atomic ener",
    }
    for key, label in labels.items():
        if key in numbers:
            for stat in ("mae", "rmse"):
                print(f"{label + ' ' + stat.upper():<20}: {numbers[key][stat]:.6e} {units[key]}")
