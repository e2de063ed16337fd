"""Which frames of each training system the statistics (env-mat normalisation, energy
bias) are taken over.

Training takes them as DeePMD-kit does: data_stat_nbatch batches of each system drawn from
the training stream before step 1 (`DataSystems.stat_draws`), repeats kept, so that the
same input and seed start from DeePMD-kit's statistics. Callers without a stream (tests,
tools) give a count instead: up to that many frames of each system, spread evenly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.system import System

Picks = list[tuple[int, int]]  # (set index, frame within that set), in draw order
# None (every frame), a count per system, or one Picks per system
FrameChoice = int | Sequence[Picks] | None


def per_system(systems: Sequence[System], frames: FrameChoice) -> list[Picks]:
    """The picks of each system for `frames`."""
    if frames is None or isinstance(frames, int | np.integer):
        return [_spread(system, frames) for system in systems]
    if len(frames) != len(systems):
        raise ValueError(f"{len(frames)} lists of frames for {len(systems)} systems")
    return [list(picks) for picks in frames]


def _spread(system: System, count: int | None) -> Picks:
    n = system.nframes if count is None else min(int(count), system.nframes)
    flat = np.unique(np.linspace(0, system.nframes - 1, n).astype(int))
    starts = np.cumsum([0] + system.nframes_per_set)
    sets = np.searchsorted(starts, flat, side="right") - 1
    return [(int(k), int(f - starts[k])) for k, f in zip(sets, flat, strict=True)]


def picked_frames(system: System, picks: Picks, type_map: list[str], keys: Sequence[str]):
    """({key: (len(picks), ...)} of the picked frames in pick order, and the model's atype
    of each, (len(picks), natoms)). A key the system lacks is left out."""
    rows: dict[str, list[np.ndarray]] = {}
    types = []
    loaded = {}
    for set_index, frame in picks:
        if set_index not in loaded:
            frames = system.load_set(set_index)
            loaded[set_index] = (frames, system.frame_types(frames, type_map))
        frames, set_types = loaded[set_index]
        for key in keys:
            if key in frames.arrays:
                rows.setdefault(key, []).append(frames.arrays[key][frame])
        types.append(set_types[frame])
    return {key: np.stack(values) for key, values in rows.items()}, np.array(types)
