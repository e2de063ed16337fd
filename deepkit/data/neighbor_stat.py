"""The largest neighbour count per type and the closest pair distance over data systems,
computed with the neighbour-list op (`deepkit neighbor-stat`), and sel: "auto"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepkit.data.system import System
from deepkit.errors import InputError
from deepkit.progress import Progress

FRAMES_PER_CALL = 64


def neighbor_stat(
    systems: Sequence[System], type_map: list[str], rcut: float, mixed_type: bool = False
):
    """max_count (ntypes,): most neighbours of each type any atom has within rcut, or with
    mixed_type (1,): most neighbours of any type (what a type-blind list needs);
    min_dist: shortest distance between two atoms (periodic images included)."""
    from deepkit import ops
    from deepkit.tfenv import tf

    ntypes = 1 if mixed_type else len(type_map)
    graph = tf.Graph()
    with graph.as_default():
        coord = tf.compat.v1.placeholder(tf.float64, (None, None, 3))
        atype = tf.compat.v1.placeholder(tf.int32, (None, None))
        box = tf.compat.v1.placeholder(tf.float64, (None, 9))
        # One slot per type keeps each type's nearest neighbour; the counts cover all.
        nlist, rij, max_count = ops.neighbor_list(coord, atype, box, rcut, [1] * ntypes)
    best_count = np.zeros(ntypes, dtype=int)
    min_dist = np.inf
    total_sets = sum(len(s.sets) for s in systems)
    with (
        tf.compat.v1.Session(graph=graph) as sess,
        Progress("neighbor-stat", total_sets, "sets") as bar,
    ):
        for system in systems:
            for k in range(len(system.sets)):
                loaded = system.load_set(k)
                arrays, types = loaded.arrays, system.frame_types(loaded, type_map)
                if mixed_type:  # one type: every neighbour counts in one block
                    types = np.zeros_like(types)
                for start in range(0, len(arrays["coord"]), FRAMES_PER_CALL):
                    chunk = slice(start, start + FRAMES_PER_CALL)
                    frames = arrays["coord"][chunk].reshape(-1, system.natoms, 3)
                    try:
                        nl, r, counts = sess.run(
                            [nlist, rij, max_count],
                            {
                                coord: frames,
                                atype: types[chunk],
                                box: arrays["box"][chunk],
                            },
                        )
                    except tf.errors.InvalidArgumentError as err:
                        raise InputError(
                            f"{system.path}/{system.sets[k]}: {ops.frame_message(err, start)}"
                        ) from None
                    best_count = np.maximum(best_count, counts.max(axis=0))
                    if (nl >= 0).any():
                        min_dist = min(min_dist, float(np.linalg.norm(r[nl >= 0], axis=-1).min()))
                bar.advance()
    return best_count, min_dist


def auto_sel(max_count: Sequence[int], factor: float = 1.1) -> list[int]:
    """sel from neighbour counts as DeePMD-kit sets it: int(count * factor) rounded up to a
    multiple of 4."""
    return [4 * ((int(n * factor) + 3) // 4) for n in max_count]


def sel_from_counts(sel: str, max_count: Sequence[int]) -> list[int]:
    """The list a sel of "auto" / "auto:F" stands for, given the neighbour counts."""
    return auto_sel(max_count, 1.1 if sel == "auto" else float(sel[5:]))


def resolve_sel(
    descriptor: dict, systems: Sequence[System], type_map: list[str], mixed_type: bool = False
) -> list[int]:
    """The descriptor's sel, computing it from the systems when it is "auto" / "auto:F"
    (one entry, for neighbours of any type, with mixed_type)."""
    sel = descriptor["sel"]
    if not isinstance(sel, str):  # a list, or se_atten's one number
        return list(np.atleast_1d(sel).tolist())
    max_count, _ = neighbor_stat(systems, type_map, descriptor["rcut"], mixed_type)
    return sel_from_counts(sel, max_count)
