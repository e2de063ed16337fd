"""Forces and virials of an energy over every environment matrix it depends on, for both
entry points (periodic and external list): no autodiff through the neighbour search."""

from __future__ import annotations

from collections.abc import Sequence

from deepkit import ops
from deepkit.descriptor.base import EnvMat
from deepkit.tfenv import tf


def forces_and_virials(energy, envs: Sequence[EnvMat], nall, net_derivs=None):
    """energy (nf,) -> force (nf, nall, 3), virial (nf, 9), atom_virial (nf, nall, 9), the
    sums of ProdForce / ProdVirial of dE/d em over every environment matrix in `envs`.
    net_derivs: dE/d em of each env where the caller has them already (a streamed graph)."""
    if net_derivs is None:
        net_derivs = tf.gradients(energy, [env.em for env in envs])
    force = virial = atom_virial = None
    for env, net_deriv in zip(envs, net_derivs, strict=True):
        f = ops.prod_force(net_deriv, env.em_deriv, env.nlist, nall)
        v, av = ops.prod_virial(net_deriv, env.em_deriv, env.rij, env.nlist, nall)
        force = f if force is None else force + f
        virial = v if virial is None else virial + v
        atom_virial = av if atom_virial is None else atom_virial + av
    return force, virial, atom_virial


def neighbor_counts(envs: Sequence[EnvMat]):
    """(nf, sum of ntypes over envs) largest neighbour counts, and the sel they are checked
    against (the same order)."""
    counts = [env.max_count for env in envs]
    sel = [s for env in envs for s in env.sel]
    return (counts[0] if len(counts) == 1 else tf.concat(counts, axis=1)), sel
