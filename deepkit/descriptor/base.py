"""The descriptor interface and registry: a trainer needs nothing else from a descriptor."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod

from deepkit.errors import InputError

_REGISTRY: dict[str, type[Descriptor]] = {}


def register(*names: str):
    """Class decorator: make a descriptor available under `names` (the input's "type")."""

    def wrap(cls):
        for name in names:
            _REGISTRY[name] = cls
        return cls

    return wrap


def make_descriptor(params: dict, ntypes: int) -> Descriptor:
    """Build the descriptor named by params["type"] from normalised input keys."""
    import deepkit.descriptor.se_e2  # noqa: F401 - registers the built-in descriptors

    kind = params["type"]
    if kind not in _REGISTRY:
        close = difflib.get_close_matches(kind, list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"model.descriptor.type: unknown descriptor {kind!r}{hint}")
    return _REGISTRY[kind](ntypes=ntypes, **{k: v for k, v in params.items() if k != "type"})


class Descriptor(ABC):
    """Turns coordinates into per-atom descriptors inside a graph.

    After build(), `env` holds what force and virial need: em, em_deriv, rij, nlist and
    max_count (see deepkit.ops); dE/d em then gives forces through prod_force.
    """

    rcut: float
    ntypes: int

    @property
    @abstractmethod
    def dim_out(self) -> int:
        """Width of the descriptor of one atom."""

    @abstractmethod
    def compute_input_stats(self, systems, type_map, max_frames: int, protect: float) -> None:
        """Env-mat normalisation from data, before build()."""

    @abstractmethod
    def build(self, coord, atype, box):
        """coord (nf, natoms, 3), atype (nf, natoms), box (nf, 9) -> (nf * natoms, dim_out)."""

    @abstractmethod
    def build_external(self, coord, atype, nloc, offsets, neighbors):
        """The same descriptor from a caller's neighbour list (ops.external_neighbor_list):
        coord (nf, nall, 3), atype (nf, nall), local atoms first -> (nf * nloc, dim_out)."""
