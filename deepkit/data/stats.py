"""The per-type energy bias that starts an energy fitting, as DeePMD-kit computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.system import System
from deepkit.errors import InputError


def energy_bias(systems: Sequence[System], type_map: list[str], rcond: float | None = None):
    """Per-type energy (ntypes,) fitting E = sum_t n_t * bias_t by least squares over every
    frame of every system that has energies. Frames of one composition share their atom
    counts, so the fit runs on each composition's mean energy weighted by its frame count
    (same solution). A type no frame has gets 0, the least-squares minimum-norm answer (as
    DeePMD-kit's), so a model whose type_map names elements absent from the data starts
    finite."""
    counts, energies, weights = [], [], []
    for system in systems:
        if not system.has_label("energy"):
            continue
        for count, total, nframes in _compositions(system, type_map):
            counts.append(count)
            energies.append(total / nframes)
            weights.append(np.sqrt(nframes))
    if not counts:
        raise InputError("energy bias: no system has energy.npy")
    a = np.array(counts, dtype=float) * np.array(weights)[:, None]
    b = np.array(energies) * np.array(weights)
    bias, *_ = np.linalg.lstsq(a, b, rcond=rcond)
    return bias


def _compositions(system: System, type_map: list[str]) -> list[tuple[np.ndarray, float, int]]:
    """(atoms of each type (ntypes,), summed energy, frames) of each composition of the
    system's frames: one for an ordinary system, one per distinct composition of a
    mixed-type one."""
    ntypes = len(type_map)
    sums: dict[tuple, list] = {}
    for k in range(len(system.sets)):
        frames = system.load_set(k)
        types = system.frame_types(frames, type_map)
        per_frame = (types[:, :, None] == np.arange(ntypes)).sum(axis=1)  # (nf, ntypes)
        for row in np.unique(per_frame, axis=0):
            same = (per_frame == row).all(axis=1)
            entry = sums.setdefault(tuple(row), [0.0, 0])
            entry[0] += frames.arrays["energy"][same].sum()
            entry[1] += int(same.sum())
    return [(np.array(c), e, n) for c, (e, n) in sums.items()]
