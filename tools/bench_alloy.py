"""Benchmark: a five-element alloy with se_atten_v2, deepkit vs DeePMD-kit 3.2.0 (TF).

Generates its own data with ASE's EMT: rattled, strained fcc cells of Al, Cu, Ni, Pd and
Ag with energies, forces and virials, five training systems of different element sets
(each with its own type_map.raw, mapped to the model's by name) and a validation system
of all five. Both codes train the same input (se_atten_v2 with attn_layer 0, the form
both compress) one after the other with the same threads, are frozen and compressed by
their own commands, scored by their own `test` on the validation system, and timed by
DeepPot.eval (tools/bench_infer.py's worker) on the validation cell repeated 2x2x2.

    bash ../shared/tools/setup-deepmd-peer.sh        # makes /tmp/deepmd-peer
    python tools/bench_alloy.py --dp /tmp/deepmd-peer/bin/dp --workdir /tmp/bench_alloy
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_infer import WORKER
from bench_train import thread_env, timed

ELEMENTS = ["Al", "Cu", "Ni", "Pd", "Ag"]
# (folder, elements, fcc repeats, frames): the training systems differ in composition, and
# their atom counts span all five elements, so that the per-type energy bias (least squares
# over the systems' compositions) is determined; with fewer compositions than elements it
# is fixed only up to a null space, which no training step sees, and the validation
# system's energy would hang on how each code happens to fill it.
SYSTEMS = [
    ("train/AlCuNi", ["Al", "Cu", "Ni"], 2, 40),
    ("train/CuNiPdAg", ["Cu", "Ni", "Pd", "Ag"], 2, 40),
    ("train/AlPdAg", ["Al", "Pd", "Ag"], 2, 40),
    ("train/all5_a", ELEMENTS, 2, 40),
    ("train/all5_b", ELEMENTS, 2, 40),
    ("valid/all5_256", ELEMENTS, 4, 10),
]


def write_alloy(path: Path, elements: list[str], reps: int, nframes: int, rng) -> None:
    """A DeePMD npy system of a random fcc solid solution of `elements`, EMT labels."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    base = bulk("Cu", "fcc", a=3.8, cubic=True).repeat(reps)
    atype = rng.integers(0, len(elements), len(base))
    base.set_chemical_symbols([elements[t] for t in atype])
    frames = {"coord": [], "box": [], "energy": [], "force": [], "virial": []}
    for _ in range(nframes):
        atoms = base.copy()
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell[:] * rng.uniform(0.98, 1.06) @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        frames["energy"].append(atoms.get_potential_energy())
        frames["force"].append(atoms.get_forces().reshape(-1))
        frames["virial"].append((-atoms.get_volume() * atoms.get_stress(voigt=False)).ravel())
        frames["coord"].append(atoms.positions.reshape(-1))
        frames["box"].append(atoms.cell[:].reshape(-1))
    (path / "set.000").mkdir(parents=True, exist_ok=True)
    (path / "type.raw").write_text("".join(f"{t}\n" for t in atype))
    (path / "type_map.raw").write_text("".join(f"{e}\n" for e in elements))
    for name, values in frames.items():
        np.save(path / "set.000" / f"{name}.npy", np.array(values))


def make_input(data: Path, steps: int, seed: int = 1) -> dict:
    """The input both codes train; seed: the nets' (type embedding seed + 1) and, + 9,
    the batches'."""
    return {
        "model": {
            "type_map": ELEMENTS,
            "descriptor": {
                "type": "se_atten_v2",
                "sel": 80,
                "rcut_smth": 0.5,
                "rcut": 6.0,
                "neuron": [25, 50, 100],
                "axis_neuron": 16,
                "attn": 128,
                "attn_layer": 0,
                "seed": seed,
            },
            "fitting_net": {"neuron": [120, 120, 120], "resnet_dt": True, "seed": seed},
            # Seeded, so that both codes start from the same weights: the type embedding
            # DeePMD-kit makes for se_atten when the input has none is drawn unseeded.
            "type_embedding": {"neuron": [8], "seed": seed + 1},
        },
        "learning_rate": {"type": "exp", "decay_steps": 50, "start_lr": 1e-3, "stop_lr": 1e-5},
        "loss": {
            "type": "ener",
            "start_pref_e": 0.02,
            "limit_pref_e": 1,
            "start_pref_f": 1000,
            "limit_pref_f": 1,
            "start_pref_v": 0.02,
            "limit_pref_v": 1,
        },
        "training": {
            "training_data": {
                "systems": [str(data / s) for s, *_ in SYSTEMS if s.startswith("train")],
                "batch_size": 1,
            },
            "numb_steps": steps,
            "seed": seed + 9,
            "disp_freq": 100,
            "save_freq": max(1, steps // 4),
        },
    }


def figures(text: str) -> dict:
    """Energy/atom, force and virial/atom rmse from either code's `test` output."""
    out = {}
    for key, pattern in (
        ("e", r"Energy RMSE/Natoms\s*:\s*([\d.eE+-]+)"),
        ("f", r"Force\s+RMSE\s*:\s*([\d.eE+-]+)"),
        ("v", r"Virial RMSE/Natoms\s*:\s*([\d.eE+-]+)"),
    ):
        found = re.search(pattern, text)
        out[key] = float(found.group(1)) if found else float("nan")
    return out


def infer(python: str, code: str, model: Path, data: Path, env: dict, threads: int) -> dict:
    command = [python, "-c", WORKER, code, str(model), "5", "2", str(threads), str(data)]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dp", required=True, help="DeePMD-kit's dp command")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_alloy"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1, help="model and batch seeds")
    args = parser.parse_args()
    env = thread_env(args.threads, log_level="3")
    data = args.workdir / "data"
    if not (data / SYSTEMS[-1][0] / "type.raw").exists():
        rng = np.random.default_rng(2026)
        for folder, elements, reps, nframes in SYSTEMS:
            write_alloy(data / folder, elements, reps, nframes, rng)
    valid = data / SYSTEMS[-1][0]
    raw = make_input(data, args.steps, args.seed)
    bin_dir = Path(sys.executable).parent
    codes = {
        "deepkit": (
            [str(bin_dir / "deepkit"), "train", "input.json", "-o", ".", "--force"],
            [str(bin_dir / "deepkit"), "freeze", "-o", "model.pb"],
            [str(bin_dir / "deepkit"), "compress", "-i", "model.pb", "-o", "model-c.pb"],
            [str(bin_dir / "deepkit"), "test", "-m", "model.pb", "-s", str(valid)],
            sys.executable,
        ),
        "deepmd": (
            [args.dp, "--tf", "train", "input.json"],
            [args.dp, "--tf", "freeze", "-o", "model.pb"],
            [args.dp, "--tf", "compress", "-i", "model.pb", "-o", "model-c.pb"],
            [args.dp, "--tf", "test", "-m", "model.pb", "-s", str(valid)],
            str(Path(args.dp).parent / "python"),
        ),
    }
    results = {}
    for code, (train, freeze, compress, test, python) in codes.items():
        folder = args.workdir / code
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "input.json").write_text(json.dumps(raw, indent=1))
        wall, peak = timed(train, folder, env)
        for command in (freeze, compress):
            subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
        tested = subprocess.run(test, cwd=folder, env=env, check=True, capture_output=True)
        row = {"train_s": wall, "train_peak_gb": peak}
        row.update(figures(tested.stdout.decode() + tested.stderr.decode()))
        for model in ("model.pb", "model-c.pb"):
            row[model] = infer(python, code, folder / model, valid, env, args.threads)
        results[code] = row
        print(code, json.dumps(row), flush=True)
    ours, theirs = results["deepkit"], results["deepmd"]
    ratios = {k: round(ours[k] / theirs[k], 3) for k in ("train_s", "e", "f", "v")}
    for model in ("model.pb", "model-c.pb"):
        ratios[model] = round(ours[model]["us_per_atom"] / theirs[model]["us_per_atom"], 3)
    print("ratios deepkit/deepmd:", json.dumps(ratios))


if __name__ == "__main__":
    main()
