"""Loss "tensor": atomic and global tensor errors, DeePMD-kit's TensorLoss.

pref_atomic * mean over the selected atoms' components of (T_i - T_i^label)^2
+ pref * mean over frames and components of (sum_i T_i - T^label)^2 / N_sel, each term
weighted by whether the batch has that label. Reported: rmse_lc (atomic, per component)
and rmse_gl (global, divided by N_sel), NaN for a batch without that label (as DeePMD-kit's
lcurve)."""

from __future__ import annotations

import numpy as np

from deepkit.config.args import REQUIRED, Arg, Group, non_negative
from deepkit.errors import InputError
from deepkit.loss.base import Loss
from deepkit.registry import LOSSES
from deepkit.tfenv import tf


@LOSSES.register
class TensorLoss(Loss):
    """DeePMD-kit's "tensor" loss (the module docstring has the formula)."""

    name = "tensor"
    doc = "atomic and global tensor errors (dipole and polar models)"
    schema = Group(
        [
            Arg(
                "pref", "float", REQUIRED, "Weight of the global tensor's loss", check=non_negative
            ),
            Arg(
                "pref_atomic",
                "float",
                REQUIRED,
                "Weight of the atomic tensors' loss",
                check=non_negative,
            ),
        ],
        unsupported={"enable_atomic_weight": ""},
    )

    def __init__(self, params: dict, start_lr: float) -> None:
        super().__init__(params, start_lr)
        if params["pref"] == 0 and params["pref_atomic"] == 0:
            raise InputError("loss: pref and pref_atomic are both 0; give one a positive weight")

    def metric_names(self) -> list[str]:
        names = ["rmse"]
        if self.params["pref_atomic"] > 0:
            names.append("rmse_lc")
        if self.params["pref"] > 0:
            names.append("rmse_gl")
        return names

    def build(self, lr, natoms, outputs: dict, labels: dict):
        del lr, natoms  # constant weights; the selected atoms are counted here
        tensor = outputs["tensor"]
        key = next(k for k in labels if not k.startswith("find_") and not k.startswith("atomic_"))
        width = int(tensor.shape[-1])
        mask = outputs["sel_mask"]  # (nf, natoms)
        nsel = tf.reduce_sum(mask[0])
        loss = tf.constant(0.0, tf.float64)
        metrics = {}
        if self.params["pref_atomic"] > 0:
            atomic = tf.reshape(outputs["atom_tensor"], [tf.shape(mask)[0], -1, width])
            label = tf.reshape(labels[f"atomic_{key}"], tf.shape(atomic))
            sq = tf.square(atomic - label) * mask[:, :, None]
            local = tf.reduce_sum(sq) / (tf.reduce_sum(mask) * width)
            loss += self.params["pref_atomic"] * labels[f"find_atomic_{key}"] * local
            metrics["rmse_lc"] = _if_found(labels[f"find_atomic_{key}"], tf.sqrt(local))
        if self.params["pref"] > 0:
            glob = tf.reduce_mean(tf.square(tensor - labels[key]))
            loss += self.params["pref"] * labels[f"find_{key}"] * glob / nsel
            metrics["rmse_gl"] = _if_found(labels[f"find_{key}"], tf.sqrt(glob) / nsel)
        metrics["rmse"] = tf.sqrt(loss)
        return loss, metrics


def _if_found(find, value):
    """value where the batch has the label, else NaN."""
    return tf.where(find > 0, value, tf.constant(np.nan, tf.float64))
