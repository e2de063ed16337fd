"""The electronic-configuration type vectors (use_econf_tebd) against configurations
written out by hand, including the elements that break Madelung filling."""

import numpy as np
import pytest

from deepkit.errors import InputError
from deepkit.nn.econf import DIM, configuration, econf_inputs, econf_vector
from deepkit.nn.type_embedding import TypeEmbedding


def written(config: str) -> dict:
    """{(n, l): electrons} from e.g. "[Ar] 3d5 4s1"."""
    cores = {"[He]": "1s2", "[Ne]": "1s2 2s2 2p6", "[Ar]": "1s2 2s2 2p6 3s2 3p6"}
    cores["[Kr]"] = cores["[Ar]"] + " 3d10 4s2 4p6"
    cores["[Xe]"] = cores["[Kr]"] + " 4d10 5s2 5p6"
    for core, full in cores.items():
        config = config.replace(core, full)
    return {(int(term[0]), "spdf".index(term[1])): int(term[2:]) for term in config.split()}


@pytest.mark.parametrize(
    "symbol, config",
    [
        ("H", "1s1"),
        ("O", "[He] 2s2 2p4"),
        ("Fe", "[Ar] 3d6 4s2"),
        ("Cr", "[Ar] 3d5 4s1"),
        ("Cu", "[Ar] 3d10 4s1"),
        ("Pd", "[Kr] 4d10"),
        ("Gd", "[Xe] 4f7 5d1 6s2"),
        ("Pt", "[Xe] 4f14 5d9 6s1"),
    ],
)
def test_ground_state_configurations(symbol, config):
    got = {k: v for k, v in configuration(symbol).items() if v}
    assert got == written(config)


def test_vector_layout():
    """Orbitals of each subshell in order, pairs first, then single electrons (Hund)."""
    assert DIM == 118
    n = econf_vector("N")  # 1s2 2s2 2p3: three single 2p electrons
    np.testing.assert_array_equal(n[:10], [1, 1, 1, 1, -1, 1, -1, 1, -1, 1])
    assert set(n[10:]) == {-1}
    o = econf_vector("O")  # 2p4: one pair, two singles
    np.testing.assert_array_equal(o[4:10], [1, 1, -1, 1, -1, 1])
    k = econf_vector("K")  # 4s after 3d in the layout: 4s1 at entries 28-29
    assert list(k[28:30]) == [-1, 1] and set(k[18:28]) == {-1}
    for symbol in ("H", "Og"):  # electrons counted back from the vector
        v = econf_vector(symbol)
        assert ((v + 1) // 2).sum() == sum(configuration(symbol).values())
    np.testing.assert_allclose(np.abs(econf_inputs(["Al", "Cu"])), 1 / np.sqrt(118))


def test_non_elements_are_refused():
    keys = {
        "neuron": [4],
        "activation_function": "tanh",
        "resnet_dt": False,
        "precision": "default",
        "trainable": True,
        "seed": 1,
        "use_econf_tebd": True,
        "use_tebd_bias": False,
    }
    with pytest.raises(InputError, match="model.type_map.*'A', 'Xx' not chemical elements"):
        TypeEmbedding(2, **keys, type_map=["A", "Xx", "O"])
    with pytest.raises(InputError, match="needs model.type_map"):
        TypeEmbedding(2, **keys)
    assert TypeEmbedding(2, **keys, type_map=["O", "H"]).inputs.shape == (2, 118)
