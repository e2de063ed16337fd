"""Dipole fitting: each selected atom's dipole (Wannier-centre displacement) as a vector
that rotates with the frame (DeePMD-kit's "dipole")."""

from __future__ import annotations

from deepkit.config.args import Group
from deepkit.fit.tensor import TENSOR_UNSUPPORTED, TensorFitting, tensor_args
from deepkit.registry import FITTINGS
from deepkit.tfenv import tf


@FITTINGS.register
class DipoleFitting(TensorFitting):
    """d_i = N^{type_i}(D_i) R_i: the net's M outputs (a row) times the M x 3 rotation
    matrix."""

    name = "dipole"
    doc = "atomic dipoles of the selected types, summed to the global dipole"
    model_type = "dipole"
    width, label = 3, "dipole"
    schema = Group(tensor_args("dipole_type"), unsupported=TENSOR_UNSUPPORTED)

    def net_width(self, m: int) -> int:
        return m

    def rotate(self, out, rot_mat, t):
        return tf.matmul(out[:, None, :], rot_mat)  # (n, 1, M) x (n, M, 3)
