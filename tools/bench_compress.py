"""Benchmark: model compression. Compresses a frozen deepkit water model (and, with
--dp-python, the DeePMD-kit one with `dp --tf compress`), reports compression time and table
size, the compressed model's accuracy against the original on all frames of
../shared/data/water/data_3, and DeepPot.eval time per atom of original and compressed
models on 192, 1,536 and 12,288-atom water with 1 and 2 threads (tools/bench_infer.py's
worker: each code, model, size and thread count in its own process, best of --reps).

    python tools/bench_compress.py --model water.pb --min-nbor-dist 0.8854 \\
        --dp-python /tmp/dpvenv/bin/python --dp-model dp_water.pb
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_infer import DATA, run


def compress_deepkit(model: Path, output: Path, min_nbor_dist: float | None) -> tuple[float, float]:
    from deepkit.compress.model import compress
    from deepkit.model.frozen import read_constants

    start = time.perf_counter()
    compress(model, output, min_nbor_dist=min_nbor_dist, log=lambda *a: None)
    seconds = time.perf_counter() - start
    tables = [v for k, v in read_constants(output).items() if k.endswith("/table")]
    return seconds, sum(t.nbytes for t in tables) / 2**20


def compress_deepmd(python: str, model: Path, output: Path) -> float:
    start = time.perf_counter()
    dp = Path(python).parent / "dp"
    subprocess.run(
        [str(dp), "--tf", "compress", "-i", str(model), "-o", str(output)],
        check=True,
        capture_output=True,
        cwd=output.parent,
    )
    return time.perf_counter() - start


def accuracy(original: Path, compressed: Path) -> dict:
    from deepkit import DeepPot

    data = DATA / "water" / "data_3"
    coord = np.load(data / "set.000" / "coord.npy")
    box = np.load(data / "set.000" / "box.npy")
    atype = np.loadtxt(data / "type.raw", dtype=int)
    e0, f0, v0 = DeepPot(original).eval(coord, box, atype)
    e1, f1, v1 = DeepPot(compressed).eval(coord, box, atype)
    n = len(atype)
    return {
        "frames": len(coord),
        "dE_per_atom": float(np.abs(e1 - e0).max() / n),
        "dF": float(np.abs(f1 - f0).max()),
        "dV_per_atom": float(np.abs(v1 - v0).max() / n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path, help="deepkit frozen model")
    parser.add_argument("--min-nbor-dist", type=float, help="for models that do not store it")
    parser.add_argument("--dp-python", help="python of a venv with deepmd-kit")
    parser.add_argument("--dp-model", type=Path, help="DeePMD-kit frozen model (same settings)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("bench-compress"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    ours = args.workdir / "deepkit-compressed.pb"
    seconds, mib = compress_deepkit(args.model, ours, args.min_nbor_dist)
    print(f"deepkit compress: {seconds:.1f} s, tables {mib:.1f} MiB")
    models = [("deepkit", sys.executable, args.model), ("deepkit compressed", sys.executable, ours)]
    if args.dp_python and args.dp_model:
        theirs = args.workdir.resolve() / "deepmd-compressed.pb"
        print(f"dp --tf compress: {compress_deepmd(args.dp_python, args.dp_model, theirs):.1f} s")
        models.append(("DeePMD-kit 3.2.0 compressed", args.dp_python, theirs))
    acc = accuracy(args.model, ours)
    print(
        f"compressed vs original, {acc['frames']} frames of data_3: max |dE|/N "
        f"{acc['dE_per_atom']:.1e} eV/atom, max |dF| {acc['dF']:.1e} eV/A, "
        f"max |dV|/N {acc['dV_per_atom']:.1e} eV/atom\n"
    )
    names = [name for name, _, _ in models]
    print("| atoms | threads | " + " | ".join(f"{n} (us/atom)" for n in names) + " | speed-up |")
    print("|---:|---:|" + "---:|" * (len(names) + 1))
    for copies in args.sizes:
        for threads in args.threads:
            times = []
            for name, python, model in models:
                row = run(python, name.split()[0], str(model), args.reps, copies, threads)
                times.append(row["us_per_atom"])
            cells = " | ".join(f"{t:.0f}" for t in times)
            print(
                f"| {row['natoms']:,} | {threads} | {cells} | {times[0] / times[1]:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
