"""Test systems: random cells, the shared water data and supercells of it."""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(
    os.environ.get("DEEPKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def shared_data(*parts: str) -> Path:
    """Path inside the shared DFT data, or skip the test when that data is not present."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared DFT data not found at {path} (set DEEPKIT_SHARED_DATA)")
    return path


def random_box(rng, length: float, tilt: float = 0.3) -> np.ndarray:
    """A triclinic cell with rows near length * identity, right-handed."""
    box = np.eye(3) * length + rng.uniform(-tilt, tilt, (3, 3)) * length
    if np.linalg.det(box) < 0:
        box[[0, 1]] = box[[1, 0]]
    return box


def water_frame():
    """First frame of shared water data_0: coord (192, 3), atype (192,), box (3, 3)."""
    system = shared_data("water", "data_0")
    coord = np.load(system / "set.000" / "coord.npy")[0].reshape(-1, 3)
    box = np.load(system / "set.000" / "box.npy")[0].reshape(3, 3)
    atype = np.loadtxt(system / "type.raw", dtype=int).reshape(-1)
    return coord, atype, box


def replicate(coord, atype, box, reps):
    """Supercell of (reps, reps, reps) copies."""
    shifts = np.array([(a, b, c) for a in range(reps) for b in range(reps) for c in range(reps)])
    big = (coord[None, :, :] + (shifts @ box)[:, None, :]).reshape(-1, 3)
    return big, np.tile(atype, len(shifts)), box * reps
