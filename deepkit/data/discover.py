"""Turn the `systems` of an input (paths, directories, globs, HDF5 files and groups, ASE
files) into System objects."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from deepkit.data.ase_frames import frames_to_systems, read_ase_frames, write_npy
from deepkit.data.system import H5System, NpySystem, System
from deepkit.errors import InputError

HDF5_SUFFIXES = (".h5", ".hdf5")


def _h5_systems(file: Path) -> list[System]:
    import h5py

    try:
        with h5py.File(file, "r") as h5:
            groups = []
            h5.visit(lambda name: groups.append(name) if name.endswith("type.raw") else None)
    except OSError as err:
        raise InputError(f"{file}: not a readable HDF5 file ({err})") from None
    if not groups:
        raise InputError(f"{file}: no system (no group holds a type.raw)")
    return [H5System(file, str(Path("/" + g).parent)) for g in sorted(groups)]


def _dir_systems(root: Path) -> list[System]:
    if (root / "type.raw").exists():
        return [NpySystem(root)]
    found = sorted({p.parent for p in root.rglob("type.raw")})
    found += sorted(p for s in HDF5_SUFFIXES for p in root.rglob(f"*{s}"))
    if not found:
        raise InputError(f"{root}: no system found (no type.raw below it)")
    return [s for p in found for s in (_h5_systems(p) if p.is_file() else [NpySystem(p)])]


def _resolve(item: str, base: Path | None) -> Path:
    path = Path(item).expanduser()
    if not path.is_absolute() and base is not None and (base / path).exists():
        return base / path
    return path


def expand_systems(spec: str | list[str], base: Path | None = None) -> list[System]:
    """Systems named by `spec`: one string or a list. Each item is a system directory, a
    directory searched recursively for systems, a glob, an HDF5 file (all its systems) or
    `file.h5#/group`, or a file ASE reads (converted on the fly, see deepkit.data.convert).
    Relative paths are taken from `base` (the input file's folder) when they exist there,
    else from the working directory."""
    items = [spec] if isinstance(spec, str) else list(spec)
    systems: list[System] = []
    for item in items:
        if "#" in item:
            file, group = item.split("#", 1)
            systems.append(H5System(_resolve(file, base), group or "/"))
            continue
        path = _resolve(item, base)
        if any(c in item for c in "*?["):
            pattern = str(path) if path.is_absolute() else str((base or Path()) / item)
            matches = sorted(glob.glob(pattern, recursive=True)) or sorted(
                glob.glob(item, recursive=True)
            )
            if not matches:
                raise InputError(f"systems: the pattern {item!r} matches nothing")
            systems += expand_systems(matches)
        elif path.is_dir():
            systems += _dir_systems(path)
        elif path.suffix in HDF5_SUFFIXES and path.is_file():
            systems += _h5_systems(path)
        elif path.is_file():
            systems += cached_npy_systems(path)
        else:
            raise InputError(f"systems: {item!r} does not exist")
    return systems


def cached_npy_systems(path: Path):
    """NpySystems converted from a file ASE reads, kept in $DEEPKIT_CACHE (default
    ~/.cache/deepkit) under a key of the file's path, size and modification time."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[
        :16
    ]
    root = Path(os.environ.get("DEEPKIT_CACHE", Path.home() / ".cache" / "deepkit")) / "converted"
    target = root / f"{path.stem}-{key}"
    if not target.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".converting-"))
        try:
            for system in frames_to_systems(read_ase_frames(path)):
                write_npy(system, tmp / system["name"])
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return expand_systems(str(target))
