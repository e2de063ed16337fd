"""The per-type energy bias that starts an energy fitting, as DeePMD-kit computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.system import System
from deepkit.errors import InputError


def energy_bias(systems: Sequence[System], type_map: list[str], rcond: float | None = None):
    """Per-type energy (ntypes,) fitting E = sum_t n_t * bias_t by least squares over every
    frame of every system that has energies. Frames of one system share their atom counts,
    so the fit runs on per-system mean energies weighted by frame counts (same solution)."""
    counts, energies, weights = [], [], []
    for system in systems:
        if not system.has_label("energy"):
            continue
        atype = system.type_indices(type_map)
        total = sum(system.load_set(k).arrays["energy"].sum() for k in range(len(system.sets)))
        counts.append(np.bincount(atype, minlength=len(type_map)))
        energies.append(total / system.nframes)
        weights.append(np.sqrt(system.nframes))
    if not counts:
        raise InputError("energy bias: no system has energy.npy")
    a = np.array(counts, dtype=float) * np.array(weights)[:, None]
    b = np.array(energies) * np.array(weights)
    bias, *_ = np.linalg.lstsq(a, b, rcond=rcond)
    return bias
