"""Benchmark: DeepPot.eval time per atom per step, deepkit vs DeePMD-kit 3.2.0.

Water boxes replicated from the first frame of ../shared/data/water/data_3: 1^3, 2^3, 4^3
copies give 192, 1,536 and 12,288 atoms. Each code and size runs in its own process with
OMP_NUM_THREADS and TensorFlow's intra-op threads set to --threads (inter-op 1); the best
of --reps single-frame evaluations after a warm-up, and the process's peak memory.

    python tools/bench_infer.py --model run/model.pb \\
        --dp-python /tmp/dpvenv/bin/python --dp-model dp_run/model.pb
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))

# Runs inside either venv: the same timing code for both codes.
WORKER = r"""
import json, resource, sys, time
import numpy as np
code, model, reps, copies, threads, data = sys.argv[1:7]
reps, copies, threads = int(reps), int(copies), int(threads)
coord = np.load(f"{data}/set.000/coord.npy")[0].reshape(-1, 3).astype(float)
box = np.load(f"{data}/set.000/box.npy")[0].reshape(3, 3).astype(float)
atype = np.loadtxt(f"{data}/type.raw", dtype=int).reshape(-1)
shifts = np.array([(a, b, c) for a in range(copies) for b in range(copies) for c in range(copies)])
coord = (coord[None] + (shifts @ box)[:, None]).reshape(1, -1)
atype, box = np.tile(atype, len(shifts)), (box * copies).reshape(1, 9)
if code == "deepkit":
    from deepkit import DeepPot
    dp = DeepPot(model, intra_threads=threads, inter_threads=1)
else:
    from deepmd.infer import DeepPot
    dp = DeepPot(model)
dp.eval(coord, box, atype)
best = float("inf")
for _ in range(reps):
    start = time.perf_counter()
    dp.eval(coord, box, atype)
    best = min(best, time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
print(json.dumps({"natoms": len(atype), "us_per_atom": 1e6 * best / len(atype), "peak_gb": peak}))
"""


def run(python: str, code: str, model: str, reps: int, copies: int, threads: int) -> dict:
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_INTRA_OP_PARALLELISM_THREADS=str(threads),
        DP_INTRA_OP_PARALLELISM_THREADS=str(threads),
        TF_INTER_OP_PARALLELISM_THREADS="1",
        DP_INTER_OP_PARALLELISM_THREADS="1",
        TF_CPU_ALLOCATOR_USE_BFC="true",
    )
    out = subprocess.run(
        [
            python,
            "-c",
            WORKER,
            code,
            model,
            str(reps),
            str(copies),
            str(threads),
            str(DATA / "water" / "data_3"),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="deepkit frozen model")
    parser.add_argument("--dp-python", help="python of a venv with deepmd-kit")
    parser.add_argument("--dp-model", help="DeePMD-kit frozen model (same settings)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    codes = [("deepkit", sys.executable, args.model)]
    if args.dp_python and args.dp_model:
        codes.append(("DeePMD-kit 3.2.0", args.dp_python, args.dp_model))
    print("| code | atoms | us/atom/step | peak memory (GB) |")
    print("|---|---:|---:|---:|")
    for copies in args.sizes:
        for name, python, model in codes:
            row = run(python, name.split()[0], model, args.reps, copies, args.threads)
            print(
                f"| {name} | {row['natoms']:,} | {row['us_per_atom']:.0f} | {row['peak_gb']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
