"""Loss "ener": energy, force, virial and atomic-energy errors, with prefactors that move
from start to limit as the learning rate decays: p = limit + (start - limit) * lr / lr0.

As DeePMD-kit normalises them: pref_e * mean(dE^2) / N + pref_f * mean(dF^2)
+ pref_v * mean(dW^2) / N + pref_ae * mean(dE_i^2), each term weighted by whether the batch
has that label. Reported rmse: energy and virial per atom, force per component."""

from __future__ import annotations

from deepkit.model import names
from deepkit.tfenv import tf

v1 = tf.compat.v1


def label_placeholders() -> dict:
    labels = {
        "energy": v1.placeholder(tf.float64, [None], names.LABEL_ENERGY),
        "force": v1.placeholder(tf.float64, [None, None], names.LABEL_FORCE),
        "virial": v1.placeholder(tf.float64, [None, 9], names.LABEL_VIRIAL),
        "atom_ener": v1.placeholder(tf.float64, [None, None], names.LABEL_ATOM_ENER),
    }
    for key in ("energy", "force", "virial", "atom_ener"):
        labels[f"find_{key}"] = v1.placeholder(tf.float64, [], names.FIND_PREFIX + key)
    return labels


class EnergyLoss:
    TERMS = (("e", "energy"), ("f", "force"), ("v", "virial"), ("ae", "atom_ener"))

    def __init__(self, params: dict, start_lr: float):
        self.params, self.start_lr = params, start_lr

    def used(self, short: str) -> bool:
        return self.params[f"start_pref_{short}"] > 0 or self.params[f"limit_pref_{short}"] > 0

    def build(self, lr, natoms, outputs: dict, labels: dict):
        """Returns the loss and a dict of rmse tensors (rmse, rmse_e, rmse_f, ...)."""
        natoms = tf.cast(natoms, tf.float64)
        l2 = {
            "e": tf.reduce_mean(tf.square(outputs["energy"] - labels["energy"])),
            "f": tf.reduce_mean(tf.square(outputs["force"] - labels["force"])),
            "v": tf.reduce_mean(tf.square(outputs["virial"] - labels["virial"])),
            "ae": tf.reduce_mean(tf.square(outputs["atom_energy"] - labels["atom_ener"])),
        }
        norm = {"e": 1.0 / natoms, "f": 1.0, "v": 1.0 / natoms, "ae": 1.0}
        loss = tf.constant(0.0, tf.float64)
        metrics = {}
        for short, label in self.TERMS:
            if not self.used(short):
                continue
            start = self.params[f"start_pref_{short}"]
            limit = self.params[f"limit_pref_{short}"]
            pref = labels[f"find_{label}"] * (limit + (start - limit) * lr / self.start_lr)
            loss += pref * norm[short] * l2[short]
            rmse = tf.sqrt(l2[short])
            metrics[f"rmse_{short}"] = rmse / natoms if short in ("e", "v") else rmse
        metrics["rmse"] = tf.sqrt(loss)
        return loss, metrics
