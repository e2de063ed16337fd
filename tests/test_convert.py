"""`deepkit convert` round trips and ASE files used directly as systems."""

import ase.io
import numpy as np
import pytest
from datasets import emt_frames

from deepkit.data import expand_systems
from deepkit.data.convert import convert


def assert_same_frames(frames, back):
    assert len(frames) == len(back)
    for a, b in zip(frames, back):
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-10)
        assert b.pbc.all() == a.pbc.all()
        if a.pbc.all():  # an open system keeps no cell (DeePMD's nopbc)
            np.testing.assert_allclose(b.cell[:], a.cell[:], atol=1e-10)
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-10)
        if a.pbc.all():
            np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=1e-10)


def test_extxyz_npy_extxyz_round_trip(tmp_path, rng):
    frames = emt_frames(rng, 3) + emt_frames(rng, 2, symbols=("Cu",), reps=1)
    ase.io.write(tmp_path / "in.xyz", frames, format="extxyz")
    frames = ase.io.read(tmp_path / "in.xyz", index=":")  # as the file holds them
    written = convert([str(tmp_path / "in.xyz")], tmp_path / "npy", "npy")
    assert len(written) == 2
    systems = expand_systems(str(tmp_path / "npy"))
    by_size = {s.natoms: s for s in systems}
    assert by_size[32].type_map == ["Al", "Cu"] and by_size[32].nframes == 3
    virial = by_size[32].load_set(0).arrays["virial"][0].reshape(3, 3)
    stress = frames[0].get_stress(voigt=False)
    np.testing.assert_allclose(virial, -stress * frames[0].get_volume(), atol=1e-8)
    convert([str(tmp_path / "npy")], tmp_path / "out.xyz", "extxyz")
    back = ase.io.read(tmp_path / "out.xyz", index=":")
    order = sorted(range(len(back)), key=lambda k: -len(back[k]))
    assert_same_frames(frames, [back[k] for k in order])


def test_hdf5_round_trip_and_open_systems(tmp_path, rng):
    frames = emt_frames(rng, 2, periodic=False)
    ase.io.write(tmp_path / "in.xyz", frames, format="extxyz")
    frames = ase.io.read(tmp_path / "in.xyz", index=":")
    convert([str(tmp_path / "in.xyz")], tmp_path / "data.h5", "hdf5", type_map=["Cu", "Al"])
    (system,) = expand_systems(str(tmp_path / "data.h5"))
    assert system.nopbc and system.type_map == ["Cu", "Al"] and system.atype[0] == 1
    convert([str(tmp_path / "data.h5")], tmp_path / "out.xyz", "extxyz")
    assert_same_frames(frames, ase.io.read(tmp_path / "out.xyz", index=":"))


def test_ase_file_in_systems_is_converted_once(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("DEEPKIT_CACHE", str(tmp_path / "cache"))
    ase.io.write(tmp_path / "train.xyz", emt_frames(rng, 2), format="extxyz")
    (system,) = expand_systems("train.xyz", base=tmp_path)
    assert system.nframes == 2 and system.has_label("virial")
    cached = list((tmp_path / "cache" / "converted").iterdir())
    (again,) = expand_systems(str(tmp_path / "train.xyz"))
    assert list((tmp_path / "cache" / "converted").iterdir()) == cached
    assert again.path == system.path
