"""Check: the same input seeds give deepkit DeePMD-kit's initial weights.

For each case (a small water input: se_e2_a with and without type_one_side, with timesteps,
se_e2_r with an excluded pair, se_e3, hybrid, a type embedding, dipole), both codes train
one step at a learning rate of 1e-30, so their first checkpoints hold the initial weights
to within 1e-29. Every deepkit variable is matched to DeePMD-kit's by name and compared
(relative to the largest entry, or 1); "deepkit only" lists nets DeePMD-kit does not
build (an excluded type pair's, which deepkit keeps but never feeds). se_atten without a
model.type_embedding: DeePMD-kit draws the one it makes unseeded, so it is not compared.

    python tools/compare_init.py --dp /tmp/deepmd-peer/bin/dp --workdir /tmp/compare_init
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

SE_A = {"type": "se_e2_a", "sel": [46, 92], "rcut_smth": 0.5, "rcut": 6.0, "neuron": [4, 8, 16]}
FIT = {"neuron": [12, 12, 12], "resnet_dt": True, "seed": 5}
CASES = {
    "se_e2_a": ({**SE_A, "axis_neuron": 4, "type_one_side": True, "seed": 1}, FIT, None),
    "se_e2_a_two_side": (
        {**SE_A, "axis_neuron": 4, "resnet_dt": True, "type_one_side": False, "seed": 7},
        FIT,
        None,
    ),
    "se_e2_r_exclude": (
        {**SE_A, "type": "se_e2_r", "exclude_types": [[0, 1]], "seed": 3},
        {**FIT, "seed": 9},
        None,
    ),
    "se_e3": ({**SE_A, "type": "se_e3", "rcut": 4.0, "sel": [12, 24], "seed": 2}, FIT, None),
    "hybrid": (
        {
            "type": "hybrid",
            "list": [
                {**SE_A, "rcut": 4.0, "sel": [20, 40], "axis_neuron": 4, "seed": 11},
                {**SE_A, "type": "se_e2_r", "seed": 21},
            ],
        },
        FIT,
        None,
    ),
    "type_embedding": (
        {**SE_A, "axis_neuron": 4, "type_one_side": True, "seed": 4},
        {**FIT, "seed": 6},
        {"neuron": [3, 6], "seed": 8},
    ),
    "dipole": (
        {**SE_A, "rcut": 4.0, "axis_neuron": 4, "type_one_side": True, "seed": 1},
        {"type": "dipole", "neuron": [12, 12], "resnet_dt": True, "sel_type": [0], "seed": 3},
        None,
    ),
    "polar": (
        {**SE_A, "axis_neuron": 4, "type_one_side": True, "seed": 1},
        {"type": "polar", "neuron": [12, 12], "sel_type": [0], "fit_diag": False, "seed": 3},
        None,
    ),
    "se_atten_strip": (
        {
            **SE_A,
            "type": "se_atten",
            "sel": 120,
            "attn": 8,
            "attn_layer": 2,
            "tebd_input_mode": "strip",
            "axis_neuron": 4,
            "seed": 2,
        },
        {**FIT, "seed": 6},
        {"neuron": [5], "seed": 8},
    ),
    # electronic-configuration inputs of the type net (118 entries per element)
    "type_embedding_econf": (
        {**SE_A, "axis_neuron": 4, "type_one_side": False, "seed": 4},
        {**FIT, "seed": 6},
        {"neuron": [3, 6], "seed": 8, "use_econf_tebd": True},
    ),
    "se_atten_v2_own_tebd": (
        {**SE_A, "type": "se_atten_v2", "sel": 120, "attn": 8, "attn_layer": 1, "seed": 2},
        {**FIT, "seed": 6},
        None,
    ),
}


def make_input(descriptor: dict, fitting: dict, type_embedding: dict | None) -> dict:
    tensor = fitting.get("type") in ("dipole", "polar")
    system = DATA / (f"water_{fitting['type']}/atomic_system" if tensor else "water/data_0")
    raw = {
        "model": {"type_map": ["O", "H"], "descriptor": descriptor, "fitting_net": fitting},
        "learning_rate": {"type": "exp", "start_lr": 1e-30, "stop_lr": 1e-30, "decay_steps": 1},
        "loss": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0} if tensor else {"type": "ener"},
        "training": {
            "training_data": {"systems": [str(system)], "batch_size": 1},
            "numb_steps": 1,
            "seed": 1,
            "disp_freq": 1,
            "save_freq": 1,
        },
    }
    if type_embedding is not None:
        raw["model"]["type_embedding"] = type_embedding
    return raw


def checkpoint_variables(folder: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(str(folder))
    reader = tf.train.load_checkpoint(prefix)
    skip = ("Adam", "global_step", "beta1_power", "beta2_power")
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not any(s in name for s in skip)
    }


_KIND = r"(matrix|bias|idt)_(\d+)"
# (deepkit's name, DeePMD-kit's) with {s} its hybrid suffix; deepkit's layers count from 0,
# DeePMD-kit's from 1 (the groups named k are shifted)
_RULES = [
    (rf"filter_type_(?P<ti>\d+)_(?P<t>\d+)/{_KIND}", "filter_type_{ti}{s}/{what}_{k}_{t}"),
    (rf"filter_type_(?P<t>\d+)/{_KIND}", "filter_type_all{s}/{what}_{k}_{t}"),  # one side
    (rf"filter_type_all_two_side/{_KIND}", "filter_type_all{s}/{what}_{k}_two_side_ebd"),
    (rf"filter_type_all/{_KIND}", "filter_type_all{s}/{what}_{k}"),
    (rf"filter_pair_(?P<a>\d+)_(?P<b>\d+)/{_KIND}", "filter_type_all{s}/{what}_{k}_{a}_{b}"),
    (rf"type_embed_net/{_KIND}", "type_embed_net/{what}_{k}"),
    (
        r"(?P<layer>attention_layer_\d+)/(?P<what>matrix|bias)_(?P<part>c_\w+)",
        "{layer}/{part}/{what}",
    ),
    (r"fitting_type_(?P<t>\d+)/(?P<what>matrix|bias|idt)_final", "final_layer_type_{t}/{what}"),
    (r"fitting_type_(?P<t>\d+)/(?P<what>matrix|bias|idt)_(?P<n>\d+)", "layer_{n}_type_{t}/{what}"),
    (r"fitting_type_all/(?P<what>matrix|bias|idt)_final", "final_layer/{what}"),
    (r"fitting_type_all/(?P<what>matrix|bias|idt)_(?P<n>\d+)", "layer_{n}/{what}"),
]


def deepmd_name(name: str) -> str | None:
    """DeePMD-kit's name of a deepkit variable (None: no counterpart there)."""
    suffix = ""
    hybrid = re.match(r"part(\d+)_(.*)", name)
    if hybrid:  # DeePMD-kit's hybrid suffixes its parts' scopes with their index
        suffix, name = f"_{hybrid.group(1)}", hybrid.group(2)
    for pattern, form in _RULES:
        m = re.fullmatch(pattern.replace(_KIND, r"(?P<what>matrix|bias|idt)_(?P<k>\d+)"), name)
        if m:
            groups = m.groupdict()
            if "k" in groups:
                groups["k"] = int(groups["k"]) + 1
            return form.format(s=suffix, **groups)
    return None


def run(cmd: list[str], cwd: Path, log: str) -> None:
    with open(cwd / log, "w") as out:
        result = subprocess.run(cmd, check=False, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}: see {cwd / log}")


def compare(case: str, dp: str, workdir: Path) -> tuple[int, float, float, list[str]]:
    raw = make_input(*CASES[case])
    folders = {}
    for code in ("deepmd", "deepkit"):
        folder = workdir / case / code
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "input.json").write_text(json.dumps(raw, indent=1))
        folders[code] = folder
    run([dp, "--tf", "train", "input.json"], folders["deepmd"], "train.log")
    deepkit = shutil.which("deepkit") or str(Path(sys.executable).parent / "deepkit")
    run([deepkit, "train", "input.json", "-o", "run"], folders["deepkit"], "train.log")
    theirs = checkpoint_variables(folders["deepmd"])
    ours = checkpoint_variables(folders["deepkit"] / "run")
    matched, worst, stats, unmatched = 0, 0.0, 0.0, []
    for name, value in sorted(ours.items()):
        if name.startswith("type_embed_net/") and CASES[case][2] is None:
            continue  # DeePMD-kit draws the type embedding it makes itself unseeded
        other = deepmd_name(name)
        if other is None or other not in theirs:
            if re.search(r"/(matrix|bias|idt)_", name):
                unmatched.append(name)
            continue
        a, b = np.ravel(value), np.ravel(theirs[other])
        if a.shape != b.shape:
            unmatched.append(f"{name} (shape {value.shape} vs {theirs[other].shape})")
            continue
        energy_bias = re.fullmatch(r"fitting_type_(\d+)/bias_final", name)
        if energy_bias and "fitting_attr/t_bias_atom_e" in theirs:
            # deepkit starts the final bias at the type's energy bias plus the draw,
            # DeePMD-kit at the draw (t_bias_atom_e added apart); the two least-squares
            # biases agree only to the data's rounding
            t = int(energy_bias.group(1))
            bias = theirs["fitting_attr/t_bias_atom_e"][t]
            stats = max(stats, float(np.max(np.abs(a - b - bias)) / abs(bias)))
            continue
        matched += 1
        worst = max(worst, float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b)))))
    return matched, worst, stats, unmatched, first_losses(folders)


def first_losses(folders: dict[str, Path]) -> float:
    """Largest relative difference of the step-0 lcurve columns both codes write: the
    same weights and batch give the same losses only if the forward passes agree (to
    the 3 digits the files print)."""
    rows = {}
    for code, folder in folders.items():
        path = next(folder.rglob("lcurve.out"))
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        header = lines[0].lstrip("#").split()
        first = next(line for line in lines[1:] if not line.startswith("#"))
        rows[code] = dict(zip(header, map(float, first.split())))
    common = [k for k in rows["deepkit"] if k in rows["deepmd"] and k not in ("step", "lr")]
    a = np.array([rows["deepkit"][k] for k in common])
    b = np.array([rows["deepmd"][k] for k in common])
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dp", required=True, help="DeePMD-kit's dp executable")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/compare_init"))
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    print(
        "| case | variables matched | max rel. difference | energy bias rel. diff. "
        "| step-0 lcurve rel. diff. | deepkit only |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for case in args.cases:
        matched, worst, stats, unmatched, losses = compare(case, args.dp, args.workdir)
        row = (
            f"| {case} | {matched} | {worst:.1e} | {stats:.1e} | {losses:.1e} "
            f"| {', '.join(unmatched) or '-'} |"
        )
        print(row, flush=True)


if __name__ == "__main__":
    main()
