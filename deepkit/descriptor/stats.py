"""The env-mat normalisation (avg/std per centre type) that starts a smooth descriptor, as
DeePMD-kit computes it, from the numpy environment matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.stat_frames import FrameChoice, per_system, picked_frames
from deepkit.data.system import System


def _std(sum2, total, n, protect):
    value = np.sqrt(max(sum2 / n - (total / n) ** 2, 0.0))
    return max(value, protect)


def env_mat_stats(
    systems: Sequence[System],
    type_map: list[str],
    rcut: float,
    rcut_smth: float,
    sel: Sequence[int],
    kind: str = "a",
    frames: FrameChoice = 10,
    protect: float = 1e-2,
    set_davg_zero: bool = False,
    mixed_types: bool = False,
):
    """avg and std (ntypes, nnei, ncomp) of the environment matrix per centre type.

    Over the frames of each system that `frames` picks (data/stat_frames.py: training's
    stat batches, or a count spread evenly), repeats counted again, every slot counts,
    empty ones included: avg of the radial component (xyz averages are zero), std of the
    radial component and one shared std of the x, y, z components, at least `protect`.
    Types with no atom in the sample (an element of the type_map in no system) keep avg 0
    and std 1, as DeePMD-kit leaves them: finite, and harmless until data brings such atoms.
    mixed_types: the slots hold the nearest neighbours of any type (a type-blind list, sel
    of one entry)."""
    from deepkit.descriptor import env_mat

    ntypes, nnei = len(type_map), sum(sel)
    ncomp = 4 if kind == "a" else 1
    sums = np.zeros((ntypes, 5))  # count, sum r, sum r^2, sum xyz, sum xyz^2
    for system, picks in zip(systems, per_system(systems, frames), strict=True):
        arrays, atype = picked_frames(system, picks, type_map, ("coord", "box"))
        coord = arrays["coord"].reshape(-1, system.natoms, 3)
        box = arrays["box"].reshape(-1, 3, 3)
        listed = np.zeros_like(atype) if mixed_types else atype  # one type: a type-blind list
        em, *_ = env_mat(coord, listed, None if system.nopbc else box, rcut, rcut_smth, sel, kind)
        for t in range(ntypes):
            # atype per frame: the atoms of type t may differ between frames (mixed type).
            rows = em[atype == t].reshape(-1, ncomp)
            if len(rows) == 0:
                continue
            xyz = rows[:, 1:]
            sums[t] += [
                len(rows),
                rows[:, 0].sum(),
                (rows[:, 0] ** 2).sum(),
                xyz.sum() / 3,
                (xyz**2).sum() / 3,
            ]
    avg = np.zeros((ntypes, nnei, ncomp))
    std = np.ones((ntypes, nnei, ncomp))
    for t in range(ntypes):
        n, sr, sr2, sa, sa2 = sums[t]
        if n == 0:
            continue
        if not set_davg_zero:
            avg[t, :, 0] = sr / n
        std[t, :, 0] = _std(sr2, sr, n, protect)
        if ncomp == 4:
            std[t, :, 1:] = _std(sa2, sa, n, protect)
    return avg, std
