"""DeePMD-kit data systems: the "npy" directory layout and its HDF5 twin.

A system is a fixed list of atoms (type.raw) and frames split into sets (set.NNN/), each
array with one row per frame (../shared/data/README.md). Sets are read on demand and checked
when read: shapes, frame counts that agree, finite values.

DeePMD-kit's mixed-type layout: every set holds real_atom_types.npy (nframes, natoms), the
type of each atom in each frame, so frames of one system may differ in composition; type.raw
then only gives the number of atoms. Types are translated to a model's type_map by element
name, per frame (System.frame_types).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepkit.errors import InputError

# The per-frame types of DeePMD-kit's mixed-type layout (set.NNN/real_atom_types.npy).
MIXED_TYPES = "real_atom_types"

# name -> (values per atom, or None for per-frame; columns per atom or per frame; None = any)
LABELS: dict[str, tuple[bool, int | None]] = {
    "coord": (True, 3),
    "box": (False, 9),
    "energy": (False, 1),
    "force": (True, 3),
    "virial": (False, 9),
    "atom_ener": (True, 1),
    "fparam": (False, None),
    "aparam": (True, None),
    "dipole": (False, 3),
    "polarizability": (False, 9),
    # Atomic tensor labels may cover only some atom types: any multiple of 3 or 9 columns.
    "atomic_dipole": (False, None),
    "atomic_polarizability": (False, None),
}


@dataclass
class FrameSet:
    """The arrays of one set: name -> (nframes, columns) float64, reshaped per LABELS; for
    a mixed-type system atype (nframes, natoms) int, the system's own type index of every
    atom in every frame (None: the system's atype holds for every frame)."""

    name: str
    arrays: dict[str, np.ndarray]
    atype: np.ndarray | None = None

    @property
    def nframes(self) -> int:
        return len(self.arrays["coord"])

    @property
    def nbytes(self) -> int:
        types = 0 if self.atype is None else self.atype.nbytes
        return types + sum(a.nbytes for a in self.arrays.values())


class System(ABC):
    """One DeePMD system. Subclasses supply the storage (a directory or an HDF5 group).

    Attributes: path (str, for messages), atype (natoms,) int indices into type_map,
    type_map (element names, or None when the system has no type_map.raw), nopbc, sets
    (set names in order), nframes_per_set, and mixed_type: every set has
    real_atom_types.npy, the types per frame (atype is then a placeholder).
    """

    path: str
    atype: np.ndarray
    type_map: list[str] | None
    nopbc: bool
    sets: list[str]
    nframes_per_set: list[int]
    mixed_type: bool

    # Storage: what subclasses implement (raw text files, set names, arrays).
    @abstractmethod
    def _read_raw(self, name: str) -> str | None: ...

    @abstractmethod
    def _set_names(self) -> list[str]: ...

    @abstractmethod
    def _set_keys(self, set_name: str) -> list[str]: ...

    @abstractmethod
    def _read_array(self, set_name: str, key: str) -> np.ndarray: ...

    @abstractmethod
    def _array_rows(self, set_name: str, key: str) -> int: ...

    # Shared logic.
    def _init_common(self) -> None:
        type_raw = self._read_raw("type.raw")
        if type_raw is None:
            raise InputError(f"{self.path}: no type.raw (one type index per atom)")
        try:
            self.atype = np.array(type_raw.split(), dtype=int)
        except ValueError:
            raise InputError(f"{self.path}/type.raw: expected integer type indices") from None
        if len(self.atype) == 0:
            raise InputError(f"{self.path}/type.raw: no atoms")
        type_map = self._read_raw("type_map.raw")
        self.type_map = type_map.split() if type_map is not None else None
        if self.atype.min() < 0 or (self.type_map and self.atype.max() >= len(self.type_map)):
            bad = self.atype.max() if self.atype.min() >= 0 else self.atype.min()
            raise InputError(
                f"{self.path}/type.raw: type index {bad} is outside type_map.raw "
                f"{self.type_map} (0..{len(self.type_map or []) - 1})"
            )
        self.nopbc = self._read_raw("nopbc") is not None
        self.sets = self._set_names()
        if not self.sets:
            raise InputError(f"{self.path}: empty system, no set.* folder")
        self.nframes_per_set = [self._array_rows(s, "coord") for s in self.sets]
        if sum(self.nframes_per_set) == 0:
            raise InputError(f"{self.path}: empty system, no frames")
        self.mixed_type = self._mixed_layout()
        self._present: np.ndarray | None = None  # present_types(), read once

    def _mixed_layout(self) -> bool:
        """Whether the sets hold real_atom_types.npy: all of them or none, as DeePMD-kit
        requires (a set without would silently take type.raw's placeholder)."""
        mixed = [MIXED_TYPES in self._set_keys(s) for s in self.sets]
        if any(mixed) and not all(mixed):
            plain = self.sets[mixed.index(False)]
            raise InputError(
                f"{self.path}/{plain}: no {MIXED_TYPES}.npy, but other sets of this system "
                "have one (a mixed-type system needs it in every set)"
            )
        return all(mixed)

    @property
    def natoms(self) -> int:
        return len(self.atype)

    @property
    def nframes(self) -> int:
        return sum(self.nframes_per_set)

    def has_label(self, key: str) -> bool:
        """Whether every set holds this array."""
        return all(key in self._set_keys(s) for s in self.sets)

    def load_set(self, index: int) -> FrameSet:
        """Read and check one set. Box is zeros for non-periodic systems."""
        name = self.sets[index]
        where = f"{self.path}/{name}"
        keys = self._set_keys(name)
        if "coord" not in keys:
            raise InputError(f"{where}: no coord.npy")
        if "box" not in keys and not self.nopbc:
            raise InputError(f"{where}: no box.npy (add an empty 'nopbc' file for open systems)")
        nframes = self.nframes_per_set[index]
        arrays = {}
        for key in keys:
            if key not in LABELS or (key == "box" and self.nopbc):
                continue
            per_atom, columns = LABELS[key]
            raw = np.asarray(self._read_array(name, key))
            if raw.dtype.kind not in "iuf":  # bool, complex, text, objects
                raise InputError(f"{where}/{key}.npy: {raw.dtype} values, expected real numbers")
            data = raw.astype(np.float64, copy=False)
            data = data.reshape(len(data), -1) if data.ndim else data.reshape(1, 1)
            if len(data) != nframes:
                raise InputError(
                    f"{where}/{key}.npy: {len(data)} frames, but coord.npy has {nframes}"
                )
            width = data.shape[1]
            if per_atom:
                expected = None if columns is None else self.natoms * columns
                if expected is not None and width != expected or width % self.natoms:
                    raise InputError(
                        f"{where}/{key}.npy: {width} columns per frame, expected "
                        f"{expected or 'a multiple of natoms'} (natoms = {self.natoms})"
                    )
            elif columns is not None and width != columns:
                raise InputError(
                    f"{where}/{key}.npy: {width} columns per frame, expected {columns}"
                )
            if not np.all(np.isfinite(data)):
                row, col = np.argwhere(~np.isfinite(data))[0]
                raise InputError(
                    f"{where}/{key}.npy: non-finite value at frame {row}, column {col}"
                )
            arrays[key] = data
        if self.nopbc:
            arrays["box"] = np.zeros((nframes, 9))
        elif np.any(np.abs(np.linalg.det(arrays["box"].reshape(-1, 3, 3))) < 1e-8):
            frame = int(np.argmin(np.abs(np.linalg.det(arrays["box"].reshape(-1, 3, 3)))))
            raise InputError(f"{where}/box.npy: frame {frame} has a singular (zero-volume) box")
        arrays["energy"] = arrays["energy"].reshape(-1) if "energy" in arrays else None
        kept = {k: v for k, v in arrays.items() if v is not None}
        return FrameSet(name, kept, self._real_types(index) if self.mixed_type else None)

    def _real_types(self, index: int) -> np.ndarray:
        """(nframes, natoms) int32: set `index`'s real_atom_types.npy, checked: integers,
        one row per frame and one column per atom, each a type of type_map.raw."""
        where = f"{self.path}/{self.sets[index]}/{MIXED_TYPES}.npy"
        raw = np.asarray(self._read_array(self.sets[index], MIXED_TYPES))
        shape = (self.nframes_per_set[index], self.natoms)
        if raw.size != shape[0] * shape[1] or (raw.ndim > 1 and len(raw) != shape[0]):
            raise InputError(
                f"{where}: shape {raw.shape}, expected (nframes, natoms) = {shape} "
                "(type.raw gives natoms)"
            )
        types = raw.reshape(shape)
        if types.dtype.kind not in "iu":
            # DeePMD-kit casts to int: whole numbers stored as floats are fine, others not.
            whole = types.dtype.kind == "f" and np.all(np.isfinite(types) & (types % 1 == 0))
            if not whole:
                raise InputError(f"{where}: {raw.dtype} values, expected integer type indices")
        types = types.astype(np.int32)
        self._check_real_types(types, where)
        return types

    def _check_real_types(self, types: np.ndarray, where: str) -> None:
        """Every entry a type of type_map.raw; -1 (DeePMD-kit's virtual atom) refused."""
        ntypes = len(self.type_map) if self.type_map is not None else None
        bad = (types < 0) if ntypes is None else (types < 0) | (types >= ntypes)
        if not bad.any():
            return
        frame, atom = (int(i) for i in np.argwhere(bad)[0])
        value = int(types[frame, atom])
        if value == -1:
            # DeePMD-kit pads frames with virtual atoms of type -1, which its models skip;
            # a deepkit model has every atom count, so it would need masks in the graph.
            raise InputError(
                f"{where}: type -1 (a virtual padding atom) at frame {frame}, atom {atom}: "
                "deepkit does not support virtual atoms; write each frame's real atoms only "
                "(a system per number of atoms)"
            )
        known = "0 or more" if ntypes is None else f"0..{ntypes - 1}, type_map.raw {self.type_map}"
        raise InputError(
            f"{where}: type index {value} at frame {frame}, atom {atom}, expected {known}"
        )

    def present_types(self) -> np.ndarray:
        """The system's type indices that some atom has in some frame (sorted)."""
        if self._present is None:
            if self.mixed_type:
                found = [np.unique(self._real_types(k)) for k in range(len(self.sets))]
                self._present = np.unique(np.concatenate(found))
            else:
                self._present = np.unique(self.atype)
        return self._present

    def type_remap(self, model_type_map: list[str]) -> np.ndarray:
        """(n,) int: the model's type index of each of the system's type indices, by element
        name (-1 for an element of type_map.raw no atom has); an InputError when an element
        some atom has is not in the model's type_map. Without type_map.raw the system's
        indices are the model's."""
        present = self.present_types()
        if self.type_map is None:
            if present.max() >= len(model_type_map):
                raise InputError(
                    f"{self.path}: type index {present.max()} but the model's type_map "
                    f"{model_type_map} has {len(model_type_map)} types"
                )
            return np.arange(len(model_type_map))
        missing = sorted({self.type_map[t] for t in present} - set(model_type_map))
        if missing:
            raise InputError(
                f"{self.path}: element(s) {missing} of type_map.raw {self.type_map} are not in "
                f"the model's type_map {model_type_map}"
            )
        return np.array(
            [model_type_map.index(e) if e in model_type_map else -1 for e in self.type_map]
        )

    def type_indices(self, model_type_map: list[str]) -> np.ndarray:
        """atype translated into indices of the model's type_map, by element name: the types
        of every frame. A mixed-type system has none such (frame_types gives its types), so
        a consumer that takes one list of types for all frames refuses it in one line."""
        if self.mixed_type:
            raise InputError(
                f"{self.path}: a mixed-type system ({MIXED_TYPES}.npy, atom types that differ "
                "between frames); only energy models train and test on such systems"
            )
        return self.type_remap(model_type_map)[self.atype]

    def frame_types(self, frames: FrameSet, model_type_map: list[str]) -> np.ndarray:
        """(nframes, natoms) int: the model's type index of every atom in every frame of
        `frames` (a set of this system), by element name."""
        own = self.atype if frames.atype is None else frames.atype
        types = self.type_remap(model_type_map)[own]
        return np.broadcast_to(types, (frames.nframes, self.natoms))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, natoms={self.natoms}, nframes={self.nframes})"


class NpySystem(System):
    """A system directory in DeePMD's npy layout."""

    def __init__(self, path: str | Path):
        self.root = Path(path)
        self.path = str(path)
        if not self.root.is_dir():
            raise InputError(f"{self.path}: no such system directory")
        self._init_common()

    def _read_raw(self, name):
        file = self.root / name
        if not file.exists():
            return None
        if not file.is_file():
            raise InputError(f"{file}: not a file")
        try:
            return file.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{file}: not a readable text file ({err})") from None

    def _set_names(self):
        return sorted(p.name for p in self.root.glob("set.*") if p.is_dir())

    def _set_keys(self, set_name):
        return [p.stem for p in (self.root / set_name).glob("*.npy")]

    def _read_array(self, set_name, key):
        file = self.root / set_name / f"{key}.npy"
        try:
            return np.load(file)
        except (ValueError, OSError, EOFError) as err:  # EOFError: an empty file
            raise InputError(f"{file}: not a readable .npy array ({err or 'empty'})") from None

    def _array_rows(self, set_name, key):
        file = self.root / set_name / f"{key}.npy"
        if not file.exists():
            raise InputError(f"{self.root / set_name}: no coord.npy")
        try:
            shape = np.load(file, mmap_mode="r").shape
        except (ValueError, OSError, EOFError) as err:  # EOFError: an empty file
            raise InputError(f"{file}: not a readable .npy array ({err or 'empty'})") from None
        return _rows(shape, file)


class H5System(System):
    """A system stored as a group of an HDF5 file, with the npy layout inside: datasets
    type.raw, type_map.raw, nopbc and groups set.NNN holding coord.npy, box.npy, ..."""

    def __init__(self, file: str | Path, group: str):
        import h5py

        self.file = str(file)
        self.group = "/" + group.strip("/")
        self.path = f"{self.file}#{self.group}"
        try:
            self._h5 = h5py.File(self.file, "r")
        except OSError as err:
            raise InputError(f"{self.file}: not a readable HDF5 file ({err})") from None
        if self.group not in self._h5:
            raise InputError(f"{self.file}: no group {self.group}")
        self._node = self._h5[self.group]
        self._init_common()

    def _read_raw(self, name):
        if name not in self._node:
            return None
        data = self._dataset(self._node, name)[()]
        if isinstance(data, bytes):
            return data.decode()
        data = np.atleast_1d(data)
        return "\n".join(d.decode() if isinstance(d, bytes) else str(d) for d in data)

    def _set_names(self):
        import h5py

        return sorted(
            k for k in self._node if k.startswith("set.") and isinstance(self._node[k], h5py.Group)
        )

    def _set_keys(self, set_name):
        return [k[: -len(".npy")] for k in self._node[set_name] if k.endswith(".npy")]

    def _read_array(self, set_name, key):
        return self._dataset(self._node[set_name], f"{key}.npy")[()]

    def _dataset(self, group, name: str):
        """group[name], an InputError when it is not a dataset (a group in its place)."""
        import h5py

        node = group[name]
        if not isinstance(node, h5py.Dataset):
            raise InputError(f"{self.file}: {node.name} is a {type(node).__name__}, not a dataset")
        return node

    def _array_rows(self, set_name, key):
        if f"{key}.npy" not in self._node[set_name]:
            raise InputError(f"{self.path}/{set_name}: no coord.npy")
        return _rows(
            self._dataset(self._node[set_name], f"{key}.npy").shape,
            f"{self.path}/{set_name}/{key}.npy",
        )


def _rows(shape: tuple, where) -> int:
    """Frames of an array: its first dimension (a scalar has none)."""
    if not shape:
        raise InputError(f"{where}: a single number, expected one row per frame")
    return shape[0]
