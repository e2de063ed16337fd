"""A frozen water model drives ASE molecular dynamics that conserves energy."""

import numpy as np
from models import water_config
from systems import shared_data, water_frame

from deepkit.train.freeze import freeze
from deepkit.train.trainer import Trainer


def test_nve_water_conserves_energy(tmp_path):
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
    atoms.calc = DeepKit(str(tmp_path / "water.pb"))
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    times, energies = [], []
    for step in range(2000):  # 1 ps
        if step % 20 == 0:
            times.append(step * 0.5e-3)  # ps
            energies.append(atoms.get_total_energy() / len(atoms))
        dyn.run(1)
    drift = np.polyfit(times, energies, 1)[0]
    assert abs(drift) < 1e-4, f"drift {drift:.2e} eV/atom/ps"
    assert np.ptp(energies) < 5e-3  # and no blow-up along the way
