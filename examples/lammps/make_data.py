"""Write a LAMMPS data file from one frame of a DeePMD system (npy or HDF5), replicated.

    python make_data.py ../aluminium/data/valid/al_fcc_108 -o al.data --replicate 2
    python make_data.py ../../../shared/data/water/data_0 -o water.data

LAMMPS types are the model's elements in the order of --type-map (default: the system's
type_map.raw), so `pair_coeff * * <type map>` maps them back; the frame is rotated into
LAMMPS's restricted triclinic box (deepkit.lammps.write_data).
"""

from __future__ import annotations

import argparse

import numpy as np

from deepkit.data import expand_systems
from deepkit.lammps import write_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", help="a DeePMD system (folder with type.raw and set.*)")
    parser.add_argument("-o", "--output", default="system.data")
    parser.add_argument("--frame", type=int, default=0, help="frame of the first set")
    parser.add_argument("--replicate", type=int, default=1, help="copies along each cell vector")
    parser.add_argument("--type-map", nargs="+", help="elements, in LAMMPS type order")
    args = parser.parse_args()

    (system,) = expand_systems(args.system)
    type_map = args.type_map or system.type_map
    arrays = system.load_set(0).arrays
    coord = arrays["coord"][args.frame].reshape(-1, 3)
    box = arrays["box"][args.frame].reshape(3, 3)
    atype = system.type_indices(type_map)
    n = args.replicate
    shifts = np.array([(a, b, c) for a in range(n) for b in range(n) for c in range(n)]) @ box
    coord = (coord[None] + shifts[:, None]).reshape(-1, 3)
    atype = np.tile(atype, len(shifts))
    write_data(args.output, coord, atype, box * n, type_map)
    print(f"wrote {args.output}: {len(coord)} atoms, types {' '.join(type_map)}")


if __name__ == "__main__":
    main()
