"""The bundled example: generate EMT aluminium data, then compute its environment matrix.

    python examples/aluminium/run.py

Shows the neighbour counts within rcut (the smallest sel that drops nothing) and the
statistics of the radial environment component, for every frame of every system. Training
on this data arrives with `deepkit train` (examples/aluminium/input.json, later).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

from deepkit.descriptor import env_mat

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RCUT, RCUT_SMTH = 6.0, 0.5


def main() -> None:
    if not DATA.exists():
        subprocess.run(
            [sys.executable, str(HERE.parents[1] / "tools" / "make_al_data.py"), str(DATA)],
            check=True,
        )
    for system in sorted(DATA.iterdir()):
        atype = np.loadtxt(system / "type.raw", dtype=int, ndmin=1)
        coord = np.concatenate([np.load(s / "coord.npy") for s in sorted(system.glob("set.*"))])
        box = np.concatenate([np.load(s / "box.npy") for s in sorted(system.glob("set.*"))])
        nframes, natoms = len(coord), len(atype)
        em, _, _, nlist = env_mat(
            coord.reshape(nframes, natoms, 3),
            atype,
            box.reshape(-1, 3, 3),
            RCUT,
            RCUT_SMTH,
            sel=[200],
        )
        counts = (nlist >= 0).sum(axis=-1)
        radial = em[..., 0][nlist >= 0]
        print(
            f"{system.name}: {nframes} frames x {natoms} atoms, rcut {RCUT} A: "
            f"neighbours {counts.min()}..{counts.max()} (sel >= {counts.max()}), "
            f"radial env mean {radial.mean():.4f} std {radial.std():.4f}"
        )


if __name__ == "__main__":
    main()
