"""Loss "ener": energy, force, virial and atomic-energy errors, with prefactors that move
from start to limit as the learning rate decays: p = limit + (start - limit) * lr / lr0.

As DeePMD-kit normalises them: pref_e * mean(dE^2) / N + pref_f * mean(dF^2)
+ pref_v * mean(dW^2) / N + pref_ae * mean(dE_i^2), each term weighted by whether the batch
has that label. Reported rmse: energy and virial per atom, force per component."""

from __future__ import annotations

from typing import ClassVar

from deepkit.config.args import Arg, Group, non_negative
from deepkit.loss.base import Loss
from deepkit.registry import LOSSES
from deepkit.tfenv import tf


def _pref(name: str, start: float, limit: float, what: str) -> list[Arg]:
    return [
        Arg(
            f"start_pref_{name}",
            "float",
            start,
            f"Prefactor of the {what} loss at step 0",
            check=non_negative,
        ),
        Arg(
            f"limit_pref_{name}",
            "float",
            limit,
            f"Prefactor of the {what} loss at the end",
            check=non_negative,
        ),
    ]


LOSS_ENER = Group(
    _pref("e", 0.02, 1.0, "energy")
    + _pref("f", 1000.0, 1.0, "force")
    + _pref("v", 0.0, 0.0, "virial")
    + _pref("ae", 0.0, 0.0, "atomic energy"),
    unsupported={
        "start_pref_pf": "",
        "limit_pref_pf": "",
        "relative_f": "",
        "enable_atom_ener_coeff": "",
        "start_pref_gf": "",
        "limit_pref_gf": "",
        "numb_generalized_coord": "",
        "use_huber": "",
        "huber_delta": "",
    },
)


@LOSSES.register
class EnergyLoss(Loss):
    """DeePMD-kit's "ener" loss (the module docstring has the formula)."""

    name = "ener"
    doc = "energy, force, virial and atomic-energy errors"
    schema = LOSS_ENER
    # (short name, label key of EnergyModel.labels, output key)
    TERMS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("e", "energy", "energy"),
        ("f", "force", "force"),
        ("v", "virial", "virial"),
        ("ae", "atom_ener", "atom_energy"),
    )
    # Energy and virial errors are reported (and weighted) per atom.
    PER_ATOM: ClassVar[frozenset[str]] = frozenset({"e", "v"})

    def used(self, short: str) -> bool:
        """Whether the term's prefactor is ever non-zero."""
        return self.params[f"start_pref_{short}"] > 0 or self.params[f"limit_pref_{short}"] > 0

    def metric_names(self) -> list[str]:
        return ["rmse"] + [f"rmse_{short}" for short, _, _ in self.TERMS if self.used(short)]

    def build(self, lr, natoms, outputs: dict, labels: dict):
        natoms = tf.cast(natoms, tf.float64)
        loss = tf.constant(0.0, tf.float64)
        metrics = {}
        for short, label, output in self.TERMS:
            if not self.used(short):
                continue
            l2 = tf.reduce_mean(tf.square(outputs[output] - labels[label]))
            start = self.params[f"start_pref_{short}"]
            limit = self.params[f"limit_pref_{short}"]
            pref = labels[f"find_{label}"] * (limit + (start - limit) * lr / self.start_lr)
            per_atom = short in self.PER_ATOM
            loss += pref * (1.0 / natoms if per_atom else 1.0) * l2
            rmse = tf.sqrt(l2)
            metrics[f"rmse_{short}"] = rmse / natoms if per_atom else rmse
        metrics["rmse"] = tf.sqrt(loss)
        return loss, metrics
