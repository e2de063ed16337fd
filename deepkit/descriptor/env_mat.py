"""numpy entry point to the neighbour-list and environment-matrix ops."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np


class NeighborOverflowWarning(UserWarning):
    """Some atom has more neighbours of a type within rcut than sel allows."""


def _as_frames(coord, atype, box):
    coord = np.asarray(coord, dtype=np.float64)
    if coord.ndim == 2:
        coord = coord[None]
    if coord.ndim != 3 or coord.shape[2] != 3:
        raise ValueError(f"coord must be (nframes, natoms, 3), got shape {coord.shape}")
    nframes, natoms, _ = coord.shape
    atype = np.asarray(atype)
    if not np.issubdtype(atype.dtype, np.integer):
        raise ValueError(f"atype must hold integer type indices, got dtype {atype.dtype}")
    if atype.ndim == 1:
        atype = np.broadcast_to(atype, (nframes, natoms))
    if atype.shape != (nframes, natoms):
        raise ValueError(
            f"atype must be (natoms,) or (nframes, natoms) = ({nframes}, {natoms}), "
            f"got shape {atype.shape}"
        )
    if box is None:
        box = np.zeros((nframes, 9))
    else:
        box = np.asarray(box, dtype=np.float64).reshape(-1, 9)
        if box.shape[0] == 1 and nframes > 1:
            box = np.repeat(box, nframes, axis=0)
        if box.shape[0] != nframes:
            raise ValueError(
                f"box must be (nframes, 3, 3) or None, got {box.shape[0]} boxes "
                f"for {nframes} frames"
            )
    return coord, np.ascontiguousarray(atype, dtype=np.int32), box


def env_mat(
    coord,
    atype,
    box,
    rcut: float,
    rcut_smth: float,
    sel: Sequence[int],
    kind: str = "a",
):
    """Un-normalised environment matrix of every atom, computed with deepkit's ops.

    Parameters
    ----------
    coord : (nframes, natoms, 3) float, Angstrom. A single frame (natoms, 3) is accepted.
    atype : (natoms,) or (nframes, natoms) int, type index of each atom in [0, len(sel)),
        atoms in any order.
    box : (nframes, 3, 3) float with the cell vectors as rows, or None for a non-periodic
        system. An all-zero box also means non-periodic.
    rcut, rcut_smth : cut-off and start of the smooth switch, Angstrom, 0 <= rcut_smth < rcut.
    sel : slots per neighbour type; nnei = sum(sel).
    kind : "a" (se_e2_a rows (s, s x/r, s y/r, s z/r)) or "r" (se_e2_r rows (s)).

    Returns
    -------
    em : (nframes, natoms, nnei, 4) float64 (last axis 1 for kind="r"), rows as above with
        avg 0 and std 1; empty slots are zero.
    em_deriv : (nframes, natoms, nnei, 4 or 1, 3) float64, d em / d r_ij.
    rij : (nframes, natoms, nnei, 3) float64, r_j - r_i of the neighbour image, Angstrom.
    nlist : (nframes, natoms, nnei) int32, neighbour atom index, -1 in empty slots.

    Neighbours of type t fill slots sum(sel[:t]) .. sum(sel[:t+1]) - 1, nearest first, ties
    by atom index; all periodic images within rcut count, so boxes shorter than 2*rcut work.
    If an atom has more type-t neighbours than sel[t], the farthest are dropped and a
    NeighborOverflowWarning names the largest count seen. Bad input (non-finite coordinates,
    a singular box, a type outside [0, len(sel)), rcut_smth >= rcut) raises ValueError.
    """
    if kind not in ("a", "r"):
        raise ValueError(f'kind must be "a" or "r", got {kind!r}')
    if not (0 <= rcut_smth < rcut):
        raise ValueError(
            f"rcut_smth must satisfy 0 <= rcut_smth < rcut, got rcut_smth={rcut_smth}, rcut={rcut}"
        )
    sel = [int(s) for s in sel]
    if not sel or min(sel) < 0:
        raise ValueError(f"sel must be a non-empty list of non-negative counts, got {sel}")
    coord, atype, box = _as_frames(coord, atype, box)

    from deepkit import ops
    from deepkit.tfenv import tf

    nnei, ncomp = sum(sel), 4 if kind == "a" else 1
    graph = tf.Graph()
    with graph.as_default():
        nlist_t, rij_t, max_count_t = ops.neighbor_list(coord, atype, box, rcut, sel)
        identity = np.broadcast_to(np.zeros(1), (len(sel), nnei, ncomp))
        em_t, em_deriv_t = ops.env_mat(
            rij_t, nlist_t, atype, identity, identity + 1.0, rcut_smth, rcut, kind=kind
        )
    with tf.compat.v1.Session(graph=graph) as sess:
        try:
            em, em_deriv, rij, nlist, max_count = sess.run(
                [em_t, em_deriv_t, rij_t, nlist_t, max_count_t]
            )
        except tf.errors.InvalidArgumentError as err:
            raise ValueError(ops.error_text(err)) from None
    _warn_overflow(max_count.max(axis=0), sel)
    return em, em_deriv, rij, nlist


def _warn_overflow(max_count: np.ndarray, sel: Sequence[int]) -> None:
    over = [(t, int(n)) for t, n in enumerate(max_count) if n > sel[t]]
    if over:
        text = ", ".join(f"type {t}: {n} > sel[{t}]={sel[t]}" for t, n in over)
        warnings.warn(
            f"more neighbours within rcut than sel allows ({text}); the farthest were dropped. "
            "Raise sel to at least the counts shown.",
            NeighborOverflowWarning,
            stacklevel=3,
        )
