"""Benchmark: `deepkit train` vs DeePMD-kit's `dp --tf train` on the water example.

DeePMD-kit's water settings (../shared/data/water_se_e2_a.json) with numb_steps 2000 and
decay_steps 100; data_0..2 train, data_3 validates. Both run in their own folder under
--workdir with the same threads; wall time and peak memory come from /usr/bin/time. The
trained models are then scored on all 80 frames of data_3 (energy per atom and force rmse):
deepkit from its last checkpoint, DeePMD-kit through `dp --tf freeze` and `dp --tf test`.

    python -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install "deepmd-kit[cpu]==3.2.0"
    python tools/bench_train.py --dp /tmp/dpvenv/bin/dp --workdir /tmp/bench_train
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


# The descriptor sections of DeePMD-kit's examples/water/se_e3 and examples/water/hybrid
# (--descriptor), from examples/water/*/input.json; the rest of the input stays the se_e2_a
# water example's.
DESCRIPTORS = {
    name: json.loads((REPO / "examples" / "water" / name / "input.json").read_text())["model"][
        "descriptor"
    ]
    for name in ("se_e3", "hybrid")
}


def make_input(
    steps: int, seed: int | None, descriptor: str = "se_e2_a", precision: str | None = None
) -> dict:
    raw = json.loads((DATA / "water_se_e2_a.json").read_text())
    raw["training"]["numb_steps"] = steps
    if descriptor in DESCRIPTORS:
        raw["model"]["descriptor"] = json.loads(json.dumps(DESCRIPTORS[descriptor]))
        if seed is not None:
            for part in raw["model"]["descriptor"].get("list", []):
                part["seed"] = seed
    if seed is not None:  # another draw of initial weights and batches, for both codes
        raw["model"]["descriptor"]["seed"] = raw["model"]["fitting_net"]["seed"] = seed
        if "list" in raw["model"]["descriptor"]:  # a hybrid: the seeds are its parts'
            del raw["model"]["descriptor"]["seed"]
        raw["training"]["seed"] = seed + 10
    if precision is not None:  # the nets' precision, descriptor (a hybrid's parts) and fitting
        descriptor = raw["model"]["descriptor"]
        for part in descriptor.get("list", [descriptor]):
            part["precision"] = precision
        raw["model"]["fitting_net"]["precision"] = precision
    raw["learning_rate"]["decay_steps"] = 100
    for section in ("training_data", "validation_data"):
        systems = raw["training"][section]["systems"]
        raw["training"][section]["systems"] = [str(DATA / s) for s in systems]
    return raw


def thread_env(threads: int, log_level: str = "2") -> dict:
    """The environment that gives both codes the same threads: OpenMP and TensorFlow's
    intra-op pools at `threads`, inter-op 1."""
    return dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        TF_INTRA_OP_PARALLELISM_THREADS=str(threads),
        DP_INTRA_OP_PARALLELISM_THREADS=str(threads),
        TF_INTER_OP_PARALLELISM_THREADS="1",
        DP_INTER_OP_PARALLELISM_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL=log_level,
    )


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Run under /usr/bin/time -v: wall seconds and peak memory in GB."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    (cwd / "stderr.log").write_text(result.stderr)
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed, see {cwd / 'stderr.log'}")
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    peak_kb = float(
        re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)
    )
    return hours * 3600 + minutes * 60 + seconds, peak_kb / 1e6


def score_deepkit(out: Path) -> tuple[float, float]:
    """Energy-per-atom and force rmse of the last checkpoint on all frames of data_3."""
    from deepkit.config import normalize
    from deepkit.data import NpySystem
    from deepkit.model.ener_model import EnergyModel
    from deepkit.tfenv import tf

    config = normalize(json.loads((out / "out.json").read_text()))
    model = EnergyModel(config["model"])
    system = NpySystem(DATA / "water" / "data_3")
    graph = tf.Graph()
    with graph.as_default():
        ph = model.placeholders()
        outputs = model.build(ph["coord"], ph["atype"], ph["box"])
        saver = tf.compat.v1.train.Saver()
    de, df = [], []
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, tf.train.latest_checkpoint(str(out)))
        arrays = system.load_set(0).arrays
        atype = system.type_indices(config["model"]["type_map"])
        for f in range(len(arrays["coord"])):
            e, force = sess.run(
                [outputs["energy"], outputs["force"]],
                {
                    ph["coord"]: arrays["coord"][f : f + 1],
                    ph["atype"]: atype[None],
                    ph["box"]: arrays["box"][f : f + 1],
                },
            )
            de.append((e[0] - arrays["energy"][f]) / system.natoms)
            df.append(force[0] - arrays["force"][f])
    return float(np.sqrt(np.mean(np.square(de)))), float(np.sqrt(np.mean(np.square(df))))


def score_deepmd(dp: str, folder: Path, env: dict) -> tuple[float, float]:
    subprocess.run(
        [dp, "--tf", "freeze", "-o", "model.pb"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [dp, "--tf", "test", "-m", "model.pb", "-s", str(DATA / "water" / "data_3"), "-n", "80"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    text = result.stdout + result.stderr
    energy = float(re.search(r"Energy RMSE/Natoms\s*:\s*([\d.eE+-]+)", text).group(1))
    force = float(re.search(r"Force\s+RMSE\s*:\s*([\d.eE+-]+)", text).group(1))
    return energy, force


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dp", help="DeePMD-kit's dp command (skip DeePMD-kit when absent)")
    parser.add_argument("--workdir", type=Path, default=Path("bench-train"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--seed", type=int, help="model and training seeds (default: the example's)"
    )
    parser.add_argument(
        "--descriptor",
        choices=["se_e2_a", *DESCRIPTORS],
        default="se_e2_a",
        help="DeePMD-kit's water example descriptor to train (default se_e2_a)",
    )
    parser.add_argument(
        "--precision",
        choices=["float64", "float32"],
        help="precision of the embedding and fitting nets (default: the example's, float64)",
    )
    args = parser.parse_args()
    env = thread_env(args.threads)
    raw = make_input(args.steps, args.seed, args.descriptor, args.precision)
    rows = []
    runs = [
        (
            "deepkit",
            [
                str(Path(sys.executable).parent / "deepkit"),
                "train",
                "input.json",
                "-o",
                ".",
                "--force",
            ],
        )
    ]
    if args.dp:
        runs.append(("DeePMD-kit 3.2.0", [args.dp, "--tf", "train", "input.json"]))
    for name, command in runs:
        folder = args.workdir / name.split()[0]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "input.json").write_text(json.dumps(raw, indent=1))
        wall, peak = timed(command, folder, env)
        energy, force = (
            score_deepkit(folder) if name == "deepkit" else score_deepmd(args.dp, folder, env)
        )
        rows.append((name, wall, wall / args.steps, peak, energy, force))
        print(
            f"{name}: {wall:.0f} s, {peak:.2f} GB, E {energy:.3e} eV/atom, F {force:.3e} eV/A",
            file=sys.stderr,
            flush=True,
        )
    print("| code | wall time (s) | s/step | peak memory (GB) | E rmse (eV/atom) | F rmse (eV/A) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, per_step, peak, energy, force in rows:
        print(f"| {name} | {wall:.0f} | {per_step:.3f} | {peak:.2f} | {energy:.2e} | {force:.3f} |")


if __name__ == "__main__":
    main()
