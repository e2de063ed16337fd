"""The command line: neighbor-stat against brute force, errors, a clean terminal."""

import subprocess
import sys

import numpy as np
import reference
from datasets import random_sets, write_system
from systems import random_box

from deepkit.cli import main


def test_neighbor_stat_matches_brute_force(tmp_path, rng, capsys):
    box = random_box(rng, 7.0)
    natoms, sets = 20, random_sets(rng, 20, [3, 2])
    atype = rng.integers(0, 2, natoms)
    for s in sets:
        s["coord"] = (rng.uniform(0, 1, (len(s["coord"]), natoms, 3)) @ box).reshape(
            len(s["coord"]), -1
        )
        s["box"] = np.tile(box.reshape(9), (len(s["coord"]), 1))
    write_system(tmp_path / "sys", atype, ["O", "H"], sets)
    assert main(["neighbor-stat", "-s", str(tmp_path / "sys"), "-r", "4.5", "-t", "O", "H"]) == 0
    out = capsys.readouterr().out
    counts, min_dist = np.zeros(2, int), np.inf
    for s in sets:
        for frame in s["coord"].reshape(-1, natoms, 3):
            _, rij, c = reference.neighbors(frame, atype, box, 4.5, [200, 200])
            counts = np.maximum(counts, c.max(axis=0))
            r = np.linalg.norm(rij, axis=-1)
            min_dist = min(min_dist, r[r > 0].min())
    assert f"max_nbor_size: {counts.tolist()}" in out
    assert f"min_nbor_dist: {min_dist:.6f}" in out
    # a hybrid's parts: one block per cut-off, the same figures at the same cut-off
    assert main(["neighbor-stat", "-s", str(tmp_path / "sys"), "-r", "3", "4.5"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert len(blocks) == 2 and "rcut 3.0 A" in blocks[0] and blocks[1] == out


def test_doc_train_input(capsys):
    assert main(["doc-train-input"]) == 0
    assert "model.descriptor.sel" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "deepkit.cli", "neighbor-stat", "-s", str(tmp_path / "nope")],
        capture_output=True,
        check=False,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"deepkit: error: systems: '{tmp_path / 'nope'}' does not exist"
    ]
    debug = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepkit.cli",
            "--debug",
            "neighbor-stat",
            "-s",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_sel_auto_uses_neighbor_stat(tmp_path, rng):
    from deepkit.data import expand_systems
    from deepkit.data.neighbor_stat import auto_sel, neighbor_stat, resolve_sel

    write_system(tmp_path / "s", rng.integers(0, 2, 30), ["O", "H"], random_sets(rng, 30, [4]))
    systems = expand_systems(str(tmp_path / "s"))
    counts, _ = neighbor_stat(systems, ["O", "H"], 4.0)
    assert auto_sel([38, 72]) == [44, 80]  # DeePMD-kit's water figures
    descriptor = {"sel": "auto:1.5", "rcut": 4.0}
    assert resolve_sel(descriptor, systems, ["O", "H"]) == [
        4 * ((int(c * 1.5) + 3) // 4) for c in counts
    ]
    assert resolve_sel({"sel": [5, 6], "rcut": 4.0}, systems, ["O", "H"]) == [5, 6]
