"""A frozen water model drives ASE molecular dynamics that conserves energy."""

import numpy as np
from models import water_config
from systems import shared_data, water_frame

from deepkit.train.freeze import freeze
from deepkit.train.trainer import Trainer


def tethered(calculator, anchor, k):
    """`calculator` plus a harmonic spring of constant k (eV/Å²) from each atom to `anchor`."""
    from ase.calculators.calculator import Calculator, all_changes
    from ase.calculators.mixing import SumCalculator

    class Tether(Calculator):
        implemented_properties = ("energy", "forces")

        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            d = self.atoms.positions - anchor
            self.results = {"energy": 0.5 * k * (d * d).sum(), "forces": -k * d}

    return SumCalculator([calculator, Tether()])


def test_nve_water_conserves_energy(tmp_path):
    """1 ps of NVE on 192-atom water: the total energy drifts less than 1e-4 eV/atom/ps.

    A model trained for 200 steps is no physical water: left free, its molecules fall into
    regions it never saw and the run blows up, whatever the code. A harmonic tether to the
    start positions (counted in the energy) keeps the run where the model was trained, while
    the model's own energy still varies and neighbours still cross rcut."""
    from ase import Atoms, units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from deepkit.calculator import DeepKit

    water = shared_data("water")
    config = water_config(water, [8, 16], 4, [32, 32], 200)
    Trainer(config, tmp_path, log=lambda *a: None).run()
    freeze(tmp_path, tmp_path / "water.pb")

    coord, atype, box = water_frame()
    atoms = Atoms([["O", "H"][t] for t in atype], positions=coord, cell=box, pbc=True)
    model = DeepKit(str(tmp_path / "water.pb"))
    atoms.calc = tethered(model, coord, k=5.0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    times, energies, model_energies = [], [], []
    for step in range(2000):  # 1 ps
        if step % 20 == 0:
            times.append(step * 0.5e-3)  # ps
            energies.append(atoms.get_total_energy() / len(atoms))
            model_energies.append(model.get_potential_energy(atoms) / len(atoms))
        dyn.run(1)
    drift = np.polyfit(times, energies, 1)[0]
    assert abs(drift) < 1e-4, f"drift {drift:.2e} eV/atom/ps"
    assert np.ptp(energies) < 5e-4  # and no blow-up along the way
    assert np.ptp(model_energies) > 5e-4  # while the model's energy does change
