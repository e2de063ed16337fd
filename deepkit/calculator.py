"""ASE calculator over a frozen deepkit model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.stress import full_3x3_to_voigt_6_stress


class DeepKit(Calculator):
    """`atoms.calc = DeepKit("model.pb")`: energy, free_energy, forces, stress and per-atom
    energies. Elements map through the model's type_map; periodic and open Atoms (all three
    directions periodic, or none)."""

    implemented_properties: ClassVar[list[str]] = [
        "energy",
        "free_energy",
        "forces",
        "stress",
        "energies",
    ]

    def __init__(self, model: str, **kwargs):
        from deepkit.infer import DeepPot

        super().__init__(**kwargs)
        self.dp = DeepPot(model)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        symbols = self.atoms.get_chemical_symbols()
        missing = sorted(set(symbols) - set(self.dp.type_map))
        if missing:
            raise ValueError(
                f"element(s) {missing} are not in the model's type_map {self.dp.type_map}"
            )
        atype = np.array([self.dp.type_map.index(s) for s in symbols])
        pbc = self.atoms.pbc
        if pbc.any() and not pbc.all():
            raise PropertyNotImplementedError(
                f"periodic in some directions only (pbc={pbc.tolist()}): use all or none"
            )
        if pbc.all() and self.atoms.cell.rank < 3:
            raise ValueError(
                f"pbc=True but the cell has {self.atoms.cell.rank} non-zero vector(s): give "
                "all three, or set pbc=False"
            )
        cell = self.atoms.cell[:].reshape(1, 9) if pbc.all() else None
        e, f, v, ae, _ = self.dp.eval(self.atoms.positions[None], cell, atype, atomic=True)
        self.results = {
            "energy": float(e[0, 0]),
            "free_energy": float(e[0, 0]),
            "forces": f[0],
            "energies": ae[0, :, 0],
        }
        if pbc.all():
            stress = -v[0].reshape(3, 3) / self.atoms.get_volume()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
