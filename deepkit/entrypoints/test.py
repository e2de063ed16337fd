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
        help="prefix of the detail files (.e.out, .e_peratom.out, .f.out, .v.out, ...; "
        "tensor models: PREFIX.out)",
    )
    parser.add_argument(
        "-a",
        "--atomic",
        action="store_true",
        help="also the atomic energies' errors (needs atom_ener.npy labels); tensor models: "
        "the atomic tensors' errors instead of the global one's",
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
    from deepkit.infer import FrozenModel

    if FrozenModel(args.model).model_type in ("dipole", "polar"):
        return _run_tensor(args)
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


def _run_tensor(args: argparse.Namespace) -> int:
    """`deepkit test` of a dipole or polar model: DeePMD-kit's tensor figures."""
    import numpy as np

    from deepkit.data.discover import expand_systems
    from deepkit.infer import DeepTensor
    from deepkit.infer.tensor_accuracy import (
        evaluate_tensor_system,
        tensor_figures,
        tensor_pooled,
        write_tensor_details,
    )

    if args.plot:
        raise InputError("--plot: parity plots cover energy models only")
    dp = DeepTensor(args.model)
    systems = expand_systems(args.system)
    if args.detail_file:
        Path(f"{args.detail_file}.out").unlink(missing_ok=True)
    rng = None
    if args.shuffle_test:
        rng = np.random.RandomState(None if args.rand_seed is None else args.rand_seed % 2**32)
    results, report = [], {"model_type": dp.model_type, "atomic": args.atomic, "systems": {}}
    for system in systems:
        result = evaluate_tensor_system(dp, system, args.numb_test or None, rng, args.atomic)
        results.append(result)
        report["systems"][system.path] = numbers = tensor_figures(result)
        _print_tensor(system.path, dp.model_type, numbers)
        if args.detail_file:
            write_tensor_details(args.detail_file, system.path, dp.model_type, result)
    report["all"] = tensor_pooled(results)
    if len(systems) > 1:
        _print_tensor(f"all {len(systems)} systems", dp.model_type, report["all"])
    print("The unit of error is the same as the unit of provided label.")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


# DeePMD-kit's report lines, letter for letter, so scripts that grep its output (DP-GEN's,
# users' own) read deepkit's: "Energy RMSE/Natoms : 1.0e-03 eV", labels padded to 19.
_REPORT_LINES = (  # (key, name, after the statistic, unit)
    ("energy", "Energy", "", "eV"),
    ("energy_per_atom", "Energy", "/Natoms", "eV"),
    ("force", "Force ", "", "eV/\u00c5"),
    ("virial", "Virial", "", "eV"),
    ("virial_per_atom", "Virial", "/Natoms", "eV"),
    ("atom_energy", "Atomic ener", "", "eV"),
)


def _print(name: str, numbers: dict) -> None:
    print(f"# {name}: {numbers['nframes']} frames")
    for key, label, suffix, unit in _REPORT_LINES:
        for stat in ("mae", "rmse") if key in numbers else ():
            print(f"{f'{label} {stat.upper()}{suffix}':<19}: {numbers[key][stat]:e} {unit}")


def _print_tensor(name: str, model_type: str, numbers: dict) -> None:
    from deepkit.infer.tensor_accuracy import LABELS

    title = LABELS[model_type][1]
    print(f"# {name}: {numbers['nframes']} frames")
    for key, text in (
        ("rmse", "RMSE       "),
        ("rmse_sqrtn", "RMSE/sqrtN "),
        ("rmse_n", "RMSE/N     "),
    ):
        if key in numbers:
            print(f"{title}  {text}: {numbers[key]:.6e}")
