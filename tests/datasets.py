"""Small DeePMD systems written on the fly for tests, labelled by ASE's EMT."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def emt_frames(rng, nframes=4, symbols=("Al", "Cu"), reps=2, periodic=True):
    """Rattled fcc frames with mixed elements and EMT energy, forces and stress."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    base = bulk("Al", "fcc", a=3.9, cubic=True).repeat(reps)
    base.set_chemical_symbols([symbols[i % len(symbols)] for i in range(len(base))])
    frames = []
    for _ in range(nframes):
        atoms = base.copy()
        atoms.set_cell(
            atoms.cell[:] @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))), scale_atoms=True
        )
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.pbc = periodic
        atoms.calc = EMT()
        results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
        if periodic:
            results["stress"] = atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames


def write_system(path: Path, atype, type_map, sets: list[dict], nopbc=False) -> Path:
    """A DeePMD npy system from arrays given per set."""
    path.mkdir(parents=True)
    (path / "type.raw").write_text("".join(f"{t}\n" for t in atype))
    if type_map is not None:
        (path / "type_map.raw").write_text("".join(f"{e}\n" for e in type_map))
    if nopbc:
        (path / "nopbc").write_text("")
    for k, arrays in enumerate(sets):
        (path / f"set.{k:03d}").mkdir()
        for key, value in arrays.items():
            np.save(path / f"set.{k:03d}" / f"{key}.npy", value)
    return path


def random_sets(rng, natoms, frames_per_set, box_length=8.0):
    sets = []
    for n in frames_per_set:
        sets.append(
            {
                "coord": rng.uniform(0, box_length, (n, natoms * 3)),
                "box": np.tile((np.eye(3) * box_length).reshape(9), (n, 1)),
                "energy": rng.normal(size=n),
                "force": rng.normal(size=(n, natoms * 3)),
            }
        )
    return sets
