"""Local atoms + ghost atoms + a CSR neighbour list: the input of the external-list path
(DeepPot.eval_external, dk_compute_nlist of the C API), as a domain-decomposed MD engine
builds it. Here from one periodic frame, with ASE's neighbour search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GhostFrame:
    """coord (nall, 3) and atype (nall,): the nloc local atoms, then ghosts; owner (nall,):
    the local atom each atom is a copy of; offsets (nloc + 1) and neighbors (nnz): the
    candidates of local atom i are neighbors[offsets[i]:offsets[i+1]]."""

    coord: np.ndarray
    atype: np.ndarray
    nloc: int
    owner: np.ndarray
    offsets: np.ndarray
    neighbors: np.ndarray

    def reduce(self, per_atom: np.ndarray) -> np.ndarray:
        """Per-atom values over nall atoms (axis 0) summed onto their owners: ghost forces
        back to the local atoms, as an MD engine's reverse communication does."""
        out = np.zeros((self.nloc, *per_atom.shape[1:]), per_atom.dtype)
        np.add.at(out, self.owner, per_atom)
        return out


def ghost_frame(coord, atype, box, cutoff: float, rng=None) -> GhostFrame:
    """Ghosts of a periodic frame: every periodic image within `cutoff` of a local atom
    (cutoff = rcut + a skin, as MD codes use). rng: shuffle each atom's candidates (their
    order must not matter)."""
    from ase.neighborlist import primitive_neighbor_list

    coord = np.asarray(coord, np.float64).reshape(-1, 3)
    atype = np.asarray(atype).reshape(-1)
    box = np.asarray(box, np.float64).reshape(3, 3)
    nloc = len(coord)
    i, j, shift = primitive_neighbor_list(
        "ijS", (True, True, True), box, coord, cutoff, self_interaction=False
    )
    # One ghost per distinct (atom, image) outside the home cell.
    is_ghost = np.any(shift != 0, axis=1)
    images, ghost_of_pair = np.unique(
        np.column_stack([j[is_ghost], shift[is_ghost]]), axis=0, return_inverse=True
    )
    index = j.copy()
    index[is_ghost] = nloc + ghost_of_pair.reshape(-1)
    ghost_coord = coord[images[:, 0]] + images[:, 1:] @ box
    order = np.argsort(i, kind="stable")
    i, index = i[order], index[order]
    offsets = np.searchsorted(i, np.arange(nloc + 1)).astype(np.int32)
    if rng is not None:
        for a in range(nloc):
            rng.shuffle(index[offsets[a] : offsets[a + 1]])
    return GhostFrame(
        coord=np.concatenate([coord, ghost_coord]),
        atype=np.concatenate([atype, atype[images[:, 0]]]).astype(np.int32),
        nloc=nloc,
        owner=np.concatenate([np.arange(nloc), images[:, 0]]),
        offsets=offsets,
        neighbors=index.astype(np.int32),
    )
