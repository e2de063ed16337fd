"""ASE frames <-> DeePMD systems: reading any format ASE reads, grouping frames into
systems by their sequence of elements (a system has one type.raw), writing npy folders and
HDF5 files, and a system's frames back as ASE Atoms. virial = -stress * volume."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deepkit.errors import InputError

SET_SIZE = 5000


def read_ase_frames(path: str | Path, fmt: str | None = None) -> list:
    """All frames of a file ASE reads (extxyz, OUTCAR, vasprun.xml, LAMMPS dump, ...)."""
    import ase.io

    try:
        frames = ase.io.read(str(path), index=":", format=fmt)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except Exception as err:  # noqa: BLE001 - ASE raises many types for unreadable files
        raise InputError(f"{path}: ASE could not read it ({type(err).__name__}: {err})") from None
    if not frames:
        raise InputError(f"{path}: no frames")
    return frames


def _labels(atoms) -> dict[str, np.ndarray]:
    """coord, box and whatever labels the frame carries, in DeePMD's row layout."""
    row = {"coord": atoms.positions.reshape(-1), "box": np.asarray(atoms.cell[:]).reshape(-1)}
    results = atoms.calc.results if atoms.calc is not None else {}
    energy = results.get("energy", results.get("free_energy"))
    if energy is not None:
        row["energy"] = np.array(float(energy))
    if results.get("forces") is not None:
        row["force"] = np.asarray(results["forces"]).reshape(-1)
    if results.get("stress") is not None and atoms.cell.volume > 0:
        stress = np.asarray(atoms.get_stress(voigt=False))
        row["virial"] = (-stress * atoms.get_volume()).reshape(-1)
    return row


def frames_to_systems(frames: Sequence, type_map: list[str] | None = None) -> list[dict]:
    """Group ASE frames into DeePMD systems: dicts with name, type_map, atype, nopbc and
    arrays (name -> (nframes, columns)); a label is kept when every frame of the system has it."""
    symbols_seen = list(dict.fromkeys(s for atoms in frames for s in atoms.get_chemical_symbols()))
    type_map = list(type_map) if type_map else sorted(symbols_seen)
    missing = [s for s in symbols_seen if s not in type_map]
    if missing:
        raise InputError(f"--type-map {type_map} lacks element(s) {missing} found in the frames")
    groups: dict[tuple, list] = {}
    for atoms in frames:
        key = (tuple(atoms.get_chemical_symbols()), bool(atoms.pbc.all()))
        groups.setdefault(key, []).append(atoms)
    systems, names = [], set()
    for (symbols, periodic), members in groups.items():
        atype = np.array([type_map.index(s) for s in symbols])
        name = "".join(
            f"{e}{np.sum(atype == t)}" for t, e in enumerate(type_map) if np.any(atype == t)
        )
        unique, k = name, 1
        while unique in names:
            unique, k = f"{name}_{k}", k + 1
        names.add(unique)
        rows = [_labels(a) for a in members]
        keys = [k for k in rows[0] if all(k in r for r in rows)]
        arrays = {k: np.stack([r[k] for r in rows]).reshape(len(rows), -1) for k in keys}
        arrays["energy"] = arrays["energy"].reshape(-1) if "energy" in arrays else None
        systems.append(
            {
                "name": unique,
                "type_map": type_map,
                "atype": atype,
                "nopbc": not periodic,
                "arrays": {k: v for k, v in arrays.items() if v is not None},
            }
        )
    return systems


def write_npy(system: dict, path: Path) -> None:
    """One system (frames_to_systems) as a DeePMD npy folder at `path`."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "type.raw").write_text("".join(f"{t}\n" for t in system["atype"]))
    (path / "type_map.raw").write_text("".join(f"{e}\n" for e in system["type_map"]))
    if system["nopbc"]:
        (path / "nopbc").write_text("")
    nframes = len(system["arrays"]["coord"])
    for k, start in enumerate(range(0, nframes, SET_SIZE)):
        set_dir = path / f"set.{k:03d}"
        set_dir.mkdir(exist_ok=True)
        for key, data in system["arrays"].items():
            if key == "box" and system["nopbc"]:
                continue
            np.save(set_dir / f"{key}.npy", data[start : start + SET_SIZE])


def write_hdf5(systems: Sequence[dict], file: Path) -> None:
    """Systems as groups of one DeePMD HDF5 file."""
    import h5py

    with h5py.File(file, "w") as h5:
        for system in systems:
            group = h5.create_group(system["name"])
            group.create_dataset("type.raw", data=np.asarray(system["atype"]))
            group.create_dataset("type_map.raw", data=np.array(system["type_map"], dtype="S"))
            if system["nopbc"]:
                group.create_dataset("nopbc", data=True)
            nframes = len(system["arrays"]["coord"])
            for k, start in enumerate(range(0, nframes, SET_SIZE)):
                set_group = group.create_group(f"set.{k:03d}")
                for key, data in system["arrays"].items():
                    if key == "box" and system["nopbc"]:
                        continue
                    set_group.create_dataset(f"{key}.npy", data=data[start : start + SET_SIZE])


def system_to_frames(system) -> list:
    """ASE Atoms of every frame of a deepkit System, with energy, forces and stress; a
    mixed-type system's frames each with their own elements."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    if system.type_map is None:
        raise InputError(f"{system.path}: no type_map.raw, element names unknown")
    frames = []
    for k in range(len(system.sets)):
        loaded = system.load_set(k)
        arrays = loaded.arrays
        # A mixed-type system's frames differ in composition: the elements of each frame.
        symbols = np.array(system.type_map)[system.frame_types(loaded, system.type_map)]
        for f in range(len(arrays["coord"])):
            atoms = Atoms(
                symbols[f],
                positions=arrays["coord"][f].reshape(-1, 3),
                cell=None if system.nopbc else arrays["box"][f].reshape(3, 3),
                pbc=not system.nopbc,
            )
            results = {}
            if "energy" in arrays:
                results["energy"] = float(arrays["energy"][f])
            if "force" in arrays:
                results["forces"] = arrays["force"][f].reshape(-1, 3)
            if "virial" in arrays and not system.nopbc:
                results["stress"] = -arrays["virial"][f].reshape(3, 3) / atoms.get_volume()
            if results:
                atoms.calc = SinglePointCalculator(atoms, **results)
            frames.append(atoms)
    return frames
