"""Benchmark: `deepkit train` vs DeePMD-kit's `dp --tf train` on the water tensor examples.

examples/water_dipole and examples/water_polar (DeePMD-kit's water_tensor inputs) with
--steps steps and decay_steps steps / 20; each code trains in its own folder under
--workdir with the same threads (wall time from the clock around the command), freezes,
and its model is scored on every frame of both systems: the atomic system's atomic tensors
(rmse per component over the O atoms) and the global system's global tensor (rmse, and
rmse / N with N = 64 O atoms). deepkit evaluates through DeepDipole / DeepPolar, DeePMD-kit
through its own DeepDipole / DeepPolar (its venv's python runs a short script), so both are
scored by the same formula here.

    python tools/bench_tensor.py --dp /tmp/deepmd-peer/bin/dp --workdir /tmp/bench_tensor
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
KINDS = {"dipole": ("water_dipole", "DeepDipole", 3), "polar": ("water_polar", "DeepPolar", 9)}

# Run by DeePMD-kit's python: predictions of a frozen model on a system's frames (npz).
_DP_EVAL = """
import sys, numpy as np
from deepmd.infer.{module} import {cls}
dp = {cls}(sys.argv[1])
coord, box, atype, out = np.load(sys.argv[2]), np.load(sys.argv[3]), np.load(sys.argv[4]), sys.argv[5]
box = None if not box.any() else box
np.save(out, dp.eval(coord, box, atype, atomic=True))
"""


def make_input(kind: str, steps: int, seed: int | None = None) -> dict:
    raw = json.loads((REPO / "examples" / f"water_{kind}" / "input.json").read_text())
    if seed is not None:  # another draw of initial weights and batches, for both codes
        raw["model"]["descriptor"]["seed"] = raw["model"]["fitting_net"]["seed"] = seed
        raw["training"]["seed"] = seed + 10
    raw["training"]["numb_steps"] = steps
    raw["training"]["save_freq"] = steps
    raw["training"]["disp_freq"] = max(1, steps // 10)
    raw["learning_rate"]["decay_steps"] = max(1, steps // 20)
    systems = raw["training"]["training_data"]["systems"]
    raw["training"]["training_data"]["systems"] = [
        str(DATA / Path(s).relative_to("../../../shared/data")) for s in systems
    ]
    return raw


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    with open(cwd / "log.txt", "w") as log:
        subprocess.run(command, cwd=cwd, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def frames(kind: str, system: str) -> dict:
    folder = DATA / KINDS[kind][0] / system
    arrays = {p.stem: np.load(p) for p in sorted((folder / "set.000").glob("*.npy"))}
    arrays["atype"] = np.loadtxt(folder / "type.raw", dtype=np.int32)
    if (folder / "nopbc").exists():
        arrays["box"] = np.zeros_like(arrays["box"])
    return arrays


def scores(kind: str, predict) -> dict:
    """rmse of the atomic tensors of the O atoms (atomic system) and of the global tensor
    (global system), with predict(arrays) -> atomic tensors (nf, natoms, width)."""
    label = "dipole" if kind == "dipole" else "polarizability"
    width = KINDS[kind][2]
    out = {}
    atomic = frames(kind, "atomic_system")
    sel = atomic["atype"] == 0
    pred = predict(atomic)[:, sel]
    ref = atomic[f"atomic_{label}"].reshape(len(pred), -1, width)
    ref = ref[:, sel] if ref.shape[1] == len(sel) else ref
    out["atomic_rmse"] = float(np.sqrt(np.mean((pred - ref) ** 2)))
    glob = frames(kind, "global_system")
    total = predict(glob).sum(axis=1)
    rmse = float(np.sqrt(np.mean((total - glob[label]) ** 2)))
    out["global_rmse"], out["global_rmse_n"] = rmse, rmse / int((glob["atype"] == 0).sum())
    return out


def deepkit_predict(kind: str, model: Path):
    import deepkit

    dp = getattr(deepkit, KINDS[kind][1])(model)
    return lambda a: dp.eval(a["coord"], a["box"] if a["box"].any() else None, a["atype"])


def dp_predict(kind: str, model: Path, python: Path, folder: Path):
    def predict(arrays):
        for key in ("coord", "box", "atype"):
            np.save(folder / f"{key}.npy", arrays[key])
        script = _DP_EVAL.format(module=f"deep_{kind}", cls=KINDS[kind][1])
        args = [str(folder / f"{k}.npy") for k in ("coord", "box", "atype")]
        subprocess.run(
            [str(python), "-c", script, str(model), *args, str(folder / "pred.npy")], check=True
        )
        return np.load(folder / "pred.npy")

    return predict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dp", required=True, help="DeePMD-kit's dp executable")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_tensor"))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument(
        "--seed", type=int, help="seeds of the weights and batches (else the example's)"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(args.threads),
        TF_INTRA_OP_PARALLELISM_THREADS=str(args.threads),
        TF_INTER_OP_PARALLELISM_THREADS="1",
        DP_INTRA_OP_PARALLELISM_THREADS=str(args.threads),
        DP_INTER_OP_PARALLELISM_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    deepkit_cli = [
        sys.executable,
        "-c",
        "import sys; from deepkit.cli import main; sys.exit(main())",
    ]
    python = Path(args.dp).parent / "python"
    report = {"steps": args.steps, "threads": args.threads, "seed": args.seed}
    report["load_before"] = os.getloadavg()
    for kind in args.kinds:
        raw = make_input(kind, args.steps, args.seed)
        row = {}
        for code in ("deepkit", "deepmd"):
            folder = args.workdir / f"{code}_{kind}"
            shutil.rmtree(folder, ignore_errors=True)  # a fresh run, never a restart
            folder.mkdir(parents=True)
            (folder / "input.json").write_text(json.dumps(raw, indent=2))
            if code == "deepkit":
                seconds = timed([*deepkit_cli, "train", "input.json"], folder, env)
                timed([*deepkit_cli, "freeze", "-o", "model.pb"], folder, env)
                predict = deepkit_predict(kind, folder / "model.pb")
            else:
                seconds = timed([args.dp, "--tf", "train", "input.json"], folder, env)
                timed([args.dp, "--tf", "freeze", "-o", "model.pb"], folder, env)
                predict = dp_predict(kind, folder / "model.pb", python, folder)
            row[code] = {"train_s": seconds, **scores(kind, predict)}
            print(kind, code, json.dumps(row[code]), flush=True)
        row["time_ratio"] = row["deepkit"]["train_s"] / row["deepmd"]["train_s"]
        for key in ("atomic_rmse", "global_rmse"):
            row[f"{key}_ratio"] = row["deepkit"][key] / row["deepmd"][key]
        report[kind] = row
        print(
            kind, "ratios deepkit/deepmd:", {k: round(v, 3) for k, v in row.items() if "ratio" in k}
        )
    report["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
