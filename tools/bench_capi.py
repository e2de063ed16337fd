"""Benchmark: C API time per atom per step on 12,288-atom water (data_3's first frame,
4x4x4), deepkit's libdeepkit_c.so vs DeePMD-kit's libdeepmd_c.so (from its wheel), frozen
and compressed models, 1 and 2 threads. Builds tools/bench_capi.c with the system compiler;
each code / model / thread count runs in its own process, best of --reps calls after one
warm-up.

    python tools/bench_capi.py --model water.pb --compressed water-c.pb \\
        --dp-lib /tmp/dpvenv/lib/python3.11/site-packages/deepmd/lib/libdeepmd_c.so \\
        --dp-model dp_water.pb --dp-compressed dp_water-c.pb

DeePMD-kit's TensorFlow backend is found through LD_LIBRARY_PATH (its venv's tensorflow/
folder, derived from --dp-lib). deepkit's C API turns on TensorFlow's pooling allocator
(TF_CPU_ALLOCATOR_USE_BFC) by default; DeePMD-kit's does not, so it runs both as shipped and
with that variable set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", HERE.parents[1] / "shared" / "data"))


def water_supercell(folder: Path, reps: int) -> int:
    system = DATA / "water" / "data_3"
    coord = np.load(system / "set.000" / "coord.npy")[0].reshape(-1, 3)
    box = np.load(system / "set.000" / "box.npy")[0].reshape(3, 3)
    atype = np.loadtxt(system / "type.raw", dtype=int)
    shifts = np.array([(a, b, c) for a in range(reps) for b in range(reps) for c in range(reps)])
    big = (coord[None] + (shifts @ box)[:, None]).reshape(-1, 3)
    big.astype(np.float64).tofile(folder / "coord.bin")
    np.tile(atype, len(shifts)).astype(np.int32).tofile(folder / "atype.bin")
    (box * reps).astype(np.float64).tofile(folder / "box.bin")
    return len(big)


def build(folder: Path) -> Path:
    from deepkit import capi

    exe = folder / "bench_capi"
    command = ["cc", "-O2", str(HERE / "bench_capi.c"), "-o", str(exe)]
    subprocess.run(command + capi.cflags().split() + capi.libs().split() + ["-ldl"], check=True)
    return exe


def time_one(exe, code, model, folder, reps, threads, env) -> float:
    env = {**os.environ, **env, "OMP_NUM_THREADS": str(threads)}
    env.update(DP_INTRA_OP_PARALLELISM_THREADS=str(threads), DP_INTER_OP_PARALLELISM_THREADS="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = subprocess.run(
        [str(exe), code, str(model), str(folder), str(reps), str(threads)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("us_per_atom"))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--compressed", required=True)
    parser.add_argument("--dp-lib")
    parser.add_argument("--dp-model")
    parser.add_argument("--dp-compressed")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--supercell", type=int, default=4)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        natoms = water_supercell(folder, args.supercell)
        exe = build(folder)
        runs = [
            ("deepkit", "frozen", "deepkit", args.model, {}),
            ("deepkit", "compressed", "deepkit", args.compressed, {}),
        ]
        if args.dp_lib:
            tf_dir = Path(args.dp_lib).resolve().parents[2] / "tensorflow"
            dp_env = {"LD_LIBRARY_PATH": str(tf_dir)}
            bfc = {**dp_env, "TF_CPU_ALLOCATOR_USE_BFC": "true"}
            code = f"deepmd:{args.dp_lib}"
            for label, model in (("frozen", args.dp_model), ("compressed", args.dp_compressed)):
                if model:
                    runs.append(("DeePMD-kit 3.2.0", label, code, model, dp_env))
                    runs.append(("DeePMD-kit 3.2.0, BFC", label, code, model, bfc))
        print(f"{natoms} atoms, best of {args.reps} calls after a warm-up, us/atom/step\n")
        print("| code | model | " + " | ".join(f"{t} thread(s)" for t in args.threads) + " |")
        print("|---|---|" + "---:|" * len(args.threads))
        for name, label, code, model, env in runs:
            times = [time_one(exe, code, model, folder, args.reps, t, env) for t in args.threads]
            print(f"| {name} | {label} | " + " | ".join(f"{t:.0f}" for t in times) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
