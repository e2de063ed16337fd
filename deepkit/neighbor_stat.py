"""`deepkit neighbor-stat`: the largest neighbour count per type and the closest pair
distance over data systems, computed with the neighbour-list op; and sel: "auto"."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from deepkit.data.discover import add_systems_argument
from deepkit.data.system import System
from deepkit.errors import InputError
from deepkit.progress import Progress

FRAMES_PER_CALL = 64


def neighbor_stat(systems: Sequence[System], type_map: list[str], rcut: float):
    """max_count (ntypes,): most neighbours of each type any atom has within rcut;
    min_dist: shortest distance between two atoms (periodic images included)."""
    from deepkit import ops
    from deepkit.tfenv import tf

    ntypes = len(type_map)
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
            types = system.type_indices(type_map)
            for k in range(len(system.sets)):
                arrays = system.load_set(k).arrays
                for start in range(0, len(arrays["coord"]), FRAMES_PER_CALL):
                    chunk = slice(start, start + FRAMES_PER_CALL)
                    frames = arrays["coord"][chunk].reshape(-1, system.natoms, 3)
                    try:
                        nl, r, counts = sess.run(
                            [nlist, rij, max_count],
                            {
                                coord: frames,
                                atype: np.broadcast_to(types, (len(frames), system.natoms)),
                                box: arrays["box"][chunk],
                            },
                        )
                    except tf.errors.InvalidArgumentError as err:
                        raise InputError(
                            f"{system.path}/{system.sets[k]}: {ops.error_text(err)}"
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


def resolve_sel(descriptor: dict, systems: Sequence[System], type_map: list[str]) -> list[int]:
    """The descriptor's sel, computing it from the systems when it is "auto" / "auto:F"."""
    sel = descriptor["sel"]
    if isinstance(sel, list):
        return sel
    factor = 1.1 if sel == "auto" else float(sel[5:])
    max_count, _ = neighbor_stat(systems, type_map, descriptor["rcut"])
    return auto_sel(max_count, factor)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_systems_argument(parser)
    parser.add_argument("-r", "--rcut", type=float, default=6.0, help="cut-off radius, Angstrom")
    parser.add_argument(
        "-t",
        "--type-map",
        nargs="+",
        help="element of each type (default: from the systems' type_map.raw)",
    )


def run(args: argparse.Namespace) -> int:
    from deepkit.data.discover import expand_systems

    if args.rcut <= 0:
        raise InputError(f"--rcut: must be positive, got {args.rcut}")
    systems = expand_systems(args.system)
    type_map = args.type_map or _union_type_map(systems)
    max_count, min_dist = neighbor_stat(systems, type_map, args.rcut)
    nframes = sum(s.nframes for s in systems)
    print(f"{len(systems)} systems, {nframes} frames, rcut {args.rcut} A")
    print("type  max neighbours within rcut")
    for name, count in zip(type_map, max_count):
        print(f"{name:>4}  {count}")
    print(f"min_nbor_dist: {min_dist:.6f}")
    print(f"max_nbor_size: {[int(c) for c in max_count]}")
    print(f'sel for "auto" (x1.1, multiple of 4): {auto_sel(max_count)}')
    return 0


def _union_type_map(systems: Sequence[System]) -> list[str]:
    names: list[str] = []
    for system in systems:
        if system.type_map is None:
            raise InputError(f"{system.path}: no type_map.raw; give the elements with -t")
        names += [n for n in system.type_map if n not in names]
    return names
