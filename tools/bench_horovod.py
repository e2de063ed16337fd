"""Benchmark: data-parallel training throughput with Horovod on this machine, over Gloo
(`horovodrun --gloo`) and over MPI (`mpiexec`, the MPI `make horovod` built it with), and a
model of the allreduce cost per step to predict scaling to many GPUs.

DeePMD-kit's water example (../shared/data/water_se_e2_a.json, batch_size 1 per rank,
no validation) trained for --steps steps with 1 rank without Horovod, and with 1 and 2
ranks under each launcher (1 rank: training.distributed true, so that Horovod runs), one
thread per rank (OMP / TensorFlow intra-op 1, inter-op 1). The time per step is taken
between step --skip and the last step from the trainer's own s/batch log (start-up and
graph warm-up excluded); samples/s = ranks x batch / time per step. A last row runs two
independent single-process trainings at once: the ceiling this machine gives two ranks,
against which Horovod's own cost shows. --alternate N runs only the 2-rank trainings, the
transports in turn, N rounds: on a machine other work loads, a fairer comparison.

    python tools/bench_horovod.py --workdir /tmp/bench_hvd [--transports gloo mpi]
    python tools/bench_horovod.py --workdir /tmp/bench_hvd --steps 200 --alternate 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
BIN = Path(sys.executable).parent


def make_input(folder: Path, steps: int, skip: int, distributed: bool = False) -> Path:
    raw = json.loads((DATA / "water_se_e2_a.json").read_text())
    if distributed:
        raw["training"]["distributed"] = True  # Horovod for one rank too
    raw["training"]["numb_steps"] = steps
    raw["training"]["disp_freq"] = skip
    raw["training"]["save_freq"] = steps
    raw["training"]["training_data"]["batch_size"] = 1
    raw["training"]["training_data"]["systems"] = [
        str(DATA / s) for s in raw["training"]["training_data"]["systems"]
    ]
    raw["training"].pop("validation_data", None)
    path = folder / ("input_hvd.json" if distributed else "input.json")
    path.write_text(json.dumps(raw))
    return path


def seconds_per_step(log: str, steps: int, skip: int) -> float:
    """From the running averages the trainer prints at step `skip` and at the last step."""
    per_batch = {int(s): float(t) for s, t in re.findall(r"step (\d+)/\d+, ([\d.]+) s/batch", log)}
    return (steps * per_batch[steps] - skip * per_batch[skip]) / (steps - skip)


def train(folder: Path, ranks: int, transport: str) -> str:
    """One training: transport "none" (one process, no Horovod), "gloo" or "mpi"."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(DP_INTRA_OP_PARALLELISM_THREADS="1", DP_INTER_OP_PARALLELISM_THREADS="1")
    name = "input.json" if transport == "none" else "input_hvd.json"
    out = folder / f"run_{transport}{ranks}"
    command = [str(BIN / "deepkit"), "train", str(folder / name), "-o", str(out), "--force"]
    if transport == "gloo":
        hosts = f"localhost:{ranks}"
        command = [str(BIN / "horovodrun"), "-np", str(ranks), "-H", hosts, "--gloo", *command]
    elif transport == "mpi":
        command = [str(BIN / "mpiexec"), "-n", str(ranks), *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    log = result.stdout + result.stderr
    over = {"gloo": "Gloo", "mpi": "MPI"}.get(transport)
    if ranks > 1 and f"ranks over {over}" not in log:
        sys.exit(f"bench_horovod: the {ranks}-rank {transport} run did not use {over}")
    return log


def independent_pair(folder: Path, steps: int, skip: int) -> float:
    """Two single-process trainings at once, no Horovod: what this machine gives two ranks."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(DP_INTRA_OP_PARALLELISM_THREADS="1", DP_INTER_OP_PARALLELISM_THREADS="1")
    procs = [
        subprocess.Popen(
            [
                str(BIN / "deepkit"),
                "train",
                str(folder / "input.json"),
                "-o",
                str(folder / f"pair{k}"),
                "--force",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in range(2)
    ]
    logs = [p.communicate()[0] for p in procs]
    return sum(seconds_per_step(log, steps, skip) for log in logs) / 2


def parameter_count(checkpoint_dir: Path) -> int:
    from deepkit.tfenv import tf

    skip = ("Adam", "beta1_power", "beta2_power", "global_step", "attr")
    prefix = tf.train.latest_checkpoint(str(checkpoint_dir))
    return sum(
        int(__import__("numpy").prod(shape))
        for name, shape in tf.train.list_variables(prefix)
        if not any(s in name for s in skip)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--skip", type=int, default=50)
    parser.add_argument("--transports", nargs="+", choices=("gloo", "mpi"), default=["gloo", "mpi"])
    parser.add_argument(
        "--alternate",
        type=int,
        default=0,
        metavar="N",
        help="only 2-rank runs, each transport in turn N times (a fairer comparison when "
        "other work loads the machine)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    make_input(args.workdir, args.steps, args.skip)
    make_input(args.workdir, args.steps, args.skip, distributed=True)
    if args.alternate:
        print("| round | " + " | ".join(f"2 ranks {t}: s/step" for t in args.transports) + " |")
        print("|---:|" + "---:|" * len(args.transports))
        for k in range(args.alternate):
            steps = [
                seconds_per_step(train(args.workdir, 2, t), args.steps, args.skip)
                for t in args.transports
            ]
            print(f"| {k + 1} | " + " | ".join(f"{s:.4f}" for s in steps) + " |", flush=True)
        return
    label = {"none": "no Horovod", "gloo": "Horovod, Gloo", "mpi": "Horovod, MPI"}
    runs = [(1, "none")] + [(r, t) for r in (1, 2) for t in args.transports]
    rows = []
    for ranks, transport in runs:
        log = train(args.workdir, ranks, transport)
        step = seconds_per_step(log, args.steps, args.skip)
        rows.append((f"{ranks} ({label[transport]})", ranks, step))
    pair = independent_pair(args.workdir, args.steps, args.skip)
    params = parameter_count(args.workdir / "run_none1")
    print(
        f"water se_e2_a, batch 1 per rank, steps {args.skip + 1}..{args.steps}; "
        f"{params} parameters = {params * 8 / 1e6:.2f} MB of float64 gradients per step\n"
    )
    print("| ranks | s/step | samples/s | speed-up |")
    print("|---|---:|---:|---:|")
    base = 1 / rows[0][2]
    for name, ranks, step in rows:
        print(f"| {name} | {step:.4f} | {ranks / step:.2f} | {ranks / step / base:.2f}x |")
    print(
        f"| 2 independent 1-rank runs at once (no Horovod) | {pair:.4f} | {2 / pair:.2f} | "
        f"{2 / pair / base:.2f}x |"
    )


if __name__ == "__main__":
    main()
