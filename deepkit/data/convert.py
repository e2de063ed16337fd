"""Any format ASE reads <-> DeePMD npy / HDF5 systems (`deepkit convert`).

Frames are grouped into systems by their sequence of elements; DeePMD systems convert back
to extxyz with energy, forces and stress (deepkit.data.ase_frames does the work).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deepkit.data.ase_frames import (
    frames_to_systems,
    read_ase_frames,
    system_to_frames,
    write_hdf5,
    write_npy,
)
from deepkit.data.discover import expand_systems

FORMATS = ("npy", "hdf5", "extxyz")


def _is_deepmd(path: Path) -> bool:
    return path.is_dir() or path.suffix in (".h5", ".hdf5") or "#" in str(path)


def convert(inputs: Sequence[str], out: Path, to: str, type_map=None, fmt=None) -> list[str]:
    """Convert inputs into `out`; returns what was written."""
    frames, known = [], []  # known: element order of DeePMD inputs, kept in the output
    for item in inputs:
        if _is_deepmd(Path(item)):
            for system in expand_systems(item):
                frames += system_to_frames(system)
                known += [e for e in system.type_map if e not in known]
        else:
            frames += read_ase_frames(item, fmt)
    if type_map is None and known:
        seen = {s for atoms in frames for s in atoms.get_chemical_symbols()}
        type_map = known + sorted(seen - set(known))
    if to == "extxyz":
        import ase.io

        out.parent.mkdir(parents=True, exist_ok=True)
        ase.io.write(str(out), frames, format="extxyz")
        return [f"{out}: {len(frames)} frames"]
    systems = frames_to_systems(frames, type_map)
    if to == "hdf5":
        out.parent.mkdir(parents=True, exist_ok=True)
        write_hdf5(systems, out)
        return [f"{out}#/{s['name']}: {len(s['arrays']['coord'])} frames" for s in systems]
    for system in systems:
        write_npy(system, out / system["name"])
    return [f"{out / s['name']}: {len(s['arrays']['coord'])} frames" for s in systems]
