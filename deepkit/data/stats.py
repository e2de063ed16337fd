"""The per-type energy bias that starts an energy fitting, as DeePMD-kit computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.stat_frames import FrameChoice, per_system, picked_frames
from deepkit.data.system import System
from deepkit.errors import InputError


def energy_bias(
    systems: Sequence[System],
    type_map: list[str],
    rcond: float | None = None,
    frames: FrameChoice = None,
):
    """Per-type energy (ntypes,) fitting E = sum_t n_t * bias_t by least squares, as
    DeePMD-kit fits it: one row per system that has energies, its mean energy over the
    frames `frames` picks (data/stat_frames.py: training's stat batches; None: every
    frame) against its mean atom count of each type (a mixed-type system's frames differ
    in composition). A type no frame has gets 0, the least-squares minimum-norm answer (as
    DeePMD-kit's), so a model whose type_map names elements absent from the data starts
    finite."""
    counts, energies = [], []
    for system, picks in zip(systems, per_system(systems, frames), strict=True):
        if not system.has_label("energy"):
            continue
        arrays, types = picked_frames(system, picks, type_map, ("energy",))
        per_frame = (types[:, :, None] == np.arange(len(type_map))).sum(axis=1)
        counts.append(per_frame.mean(axis=0))
        energies.append(arrays["energy"].mean())
    if not counts:
        raise InputError("energy bias: no system has energy.npy")
    bias, *_ = np.linalg.lstsq(np.array(counts), np.array(energies), rcond=rcond)
    return bias
