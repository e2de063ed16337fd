"""Generate the bundled example data: fcc aluminium labelled with ASE's EMT calculator.

Writes DeePMD "npy" systems (type.raw, type_map.raw, set.NNN/{coord,box,energy,force,
virial}.npy) with rattled, strained supercells, so energies, forces and virials all vary:
OUT/train/al_fcc_32 and OUT/train/al_fcc_108 (--frames each), OUT/valid/al_fcc_108.

    python tools/make_al_data.py examples/aluminium/data        # default sizes and frames

Deterministic for a given --seed. virial = -V * stress (eV), DeePMD-kit's convention.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT


def labelled_frames(reps: int, nframes: int, rng: np.random.Generator):
    """Rattled, randomly strained fcc Al supercells with EMT labels."""
    base = bulk("Al", "fcc", a=4.05, cubic=True).repeat(reps)
    for _ in range(nframes):
        atoms = base.copy()
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        virial = -atoms.get_volume() * atoms.get_stress(voigt=False)
        yield atoms.positions.copy(), atoms.cell[:].copy(), energy, forces, virial


def write_system(path: Path, frames, set_size: int) -> None:
    frames = list(frames)
    natoms = len(frames[0][0])
    path.mkdir(parents=True, exist_ok=True)
    (path / "type.raw").write_text("0\n" * natoms)
    (path / "type_map.raw").write_text("Al\n")
    for k, start in enumerate(range(0, len(frames), set_size)):
        chunk = frames[start : start + set_size]
        set_dir = path / f"set.{k:03d}"
        set_dir.mkdir(exist_ok=True)
        np.save(set_dir / "coord.npy", np.array([f[0].reshape(-1) for f in chunk]))
        np.save(set_dir / "box.npy", np.array([f[1].reshape(-1) for f in chunk]))
        np.save(set_dir / "energy.npy", np.array([f[2] for f in chunk]))
        np.save(set_dir / "force.npy", np.array([f[3].reshape(-1) for f in chunk]))
        np.save(set_dir / "virial.npy", np.array([f[4].reshape(-1) for f in chunk]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="directory that receives the systems")
    parser.add_argument("--frames", type=int, default=60, help="frames per system")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    plan = (
        ("train", 2, args.frames),
        ("train", 3, args.frames),
        ("valid", 3, max(2, args.frames // 3)),
    )
    for folder, reps, frames in plan:
        path = args.out / folder / f"al_fcc_{4 * reps**3}"
        write_system(path, labelled_frames(reps, frames, rng), set_size=max(1, frames // 2))
        print(f"wrote {path}: {frames} frames of {4 * reps**3} atoms")


if __name__ == "__main__":
    main()
