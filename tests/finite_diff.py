"""Central finite differences of an energy function energy(coord, box) -> float."""

import numpy as np


def numeric_force(energy, coord, box, h):
    """-dE/dx for every atom and direction, (natoms, 3)."""
    force = np.zeros_like(coord)
    for i in range(len(coord)):
        for e in range(3):
            step = np.zeros_like(coord)
            step[i, e] = h
            force[i, e] = -(energy(coord + step, box) - energy(coord - step, box)) / (2 * h)
    return force


def numeric_virial(energy, coord, box, h):
    """W[a, b] = -dE/d eps[b, a] for the strain r -> r (1 + eps), box -> box (1 + eps)."""
    virial = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[b, a] = h
            plus = energy(coord @ (np.eye(3) + eps), box @ (np.eye(3) + eps))
            minus = energy(coord @ (np.eye(3) - eps), box @ (np.eye(3) - eps))
            virial[a, b] = -(plus - minus) / (2 * h)
    return virial


def assert_deep_pot_derivatives(dp, coord, box, atype, h=1e-5):
    """A DeepPot's force and virial of one frame equal -dE/dx and the strain derivative."""
    energy = lambda c, b: dp.eval(c[None], b.reshape(1, 9), atype)[0][0, 0]
    _, f, v = dp.eval(coord[None], box.reshape(1, 9), atype)
    np.testing.assert_allclose(f[0], numeric_force(energy, coord, box, h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        v[0].reshape(3, 3), numeric_virial(energy, coord, box, h), rtol=1e-6, atol=1e-7
    )
