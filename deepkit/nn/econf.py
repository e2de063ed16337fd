"""Electronic-configuration type vectors (DeePMD-kit's `use_econf_tebd`): each element's
ground-state configuration as a fixed input to the type embedding net, in place of a
one-hot vector, so that chemically similar elements start close together.

Every orbital of the subshells 1s .. 7p (Hund's rule: single occupancy first) holds 0, 1
or 2 electrons, written as two entries (-1 -1, -1 1, 1 1): 118 entries in all, scaled by
1/sqrt(118) to unit length scale as DeePMD-kit does. Configurations fill subshells in
Madelung order, with the measured exceptions below."""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

# The subshells of the vector, in its order (n, l).
SUBSHELLS = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2), (4, 3),
             (5, 0), (5, 1), (5, 2), (5, 3), (6, 0), (6, 1), (6, 2), (7, 0), (7, 1)]  # fmt: skip
DIM = 2 * sum(2 * l + 1 for _, l in SUBSHELLS)

# Ground states that differ from Madelung filling: {element: {(n, l): electrons}} for the
# subshells that differ.
_EXCEPTIONS = {
    "Cr": {(3, 2): 5, (4, 0): 1}, "Cu": {(3, 2): 10, (4, 0): 1},
    "Nb": {(4, 2): 4, (5, 0): 1}, "Mo": {(4, 2): 5, (5, 0): 1},
    "Ru": {(4, 2): 7, (5, 0): 1}, "Rh": {(4, 2): 8, (5, 0): 1},
    "Pd": {(4, 2): 10, (5, 0): 0}, "Ag": {(4, 2): 10, (5, 0): 1},
    "La": {(4, 3): 0, (5, 2): 1}, "Ce": {(4, 3): 1, (5, 2): 1},
    "Gd": {(4, 3): 7, (5, 2): 1}, "Pt": {(5, 2): 9, (6, 0): 1},
    "Au": {(5, 2): 10, (6, 0): 1}, "Ac": {(5, 3): 0, (6, 2): 1},
    "Th": {(5, 3): 0, (6, 2): 2}, "Pa": {(5, 3): 2, (6, 2): 1},
    "U": {(5, 3): 3, (6, 2): 1}, "Np": {(5, 3): 4, (6, 2): 1},
    "Cm": {(5, 3): 7, (6, 2): 1},
    # predicted, as in the tables DeePMD-kit's vectors were made from (mendeleev)
    "Ds": {(6, 2): 9, (7, 0): 1}, "Rg": {(6, 2): 10, (7, 0): 1},
}  # fmt: skip


def _madelung(electrons: int) -> dict[tuple[int, int], int]:
    """Subshell occupations filled in order of n + l, then n."""
    order = sorted(SUBSHELLS, key=lambda s: (s[0] + s[1], s[0]))
    filled = {}
    for n, l in order:
        take = min(electrons, 2 * (2 * l + 1))
        filled[(n, l)] = take
        electrons -= take
    return filled


def configuration(symbol: str) -> dict[tuple[int, int], int]:
    """{(n, l): electrons} of the element's ground state."""
    return {**_madelung(atomic_numbers[symbol]), **_EXCEPTIONS.get(symbol, {})}


def econf_vector(symbol: str) -> np.ndarray:
    """The element's (DIM,) vector of +-1 entries (unscaled)."""
    config = configuration(symbol)
    entries = []
    for n, l in SUBSHELLS:
        orbitals, e = 2 * l + 1, config.get((n, l), 0)
        pairs = max(e - orbitals, 0)
        occupancy = [2] * pairs + [1] * (e - 2 * pairs) + [0] * (orbitals - e + pairs)
        entries += [spin for occ in occupancy for spin in ((-1, -1), (-1, 1), (1, 1))[occ]]
    return np.array(entries, dtype=np.float64)


ELEMENTS = chemical_symbols[1:119]


def econf_inputs(type_map: list[str]) -> np.ndarray:
    """(ntypes, DIM) inputs of the type embedding net, scaled by 1/sqrt(DIM); ValueError
    naming the entries of type_map that are not elements."""
    unknown = [t for t in type_map if t not in ELEMENTS]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} not chemical elements")
    return np.stack([econf_vector(t) for t in type_map]) / np.sqrt(DIM)
