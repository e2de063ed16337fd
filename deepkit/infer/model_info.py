"""What a model is made of, for `deepkit show`: its trainable parameters by part."""

from __future__ import annotations

import copy

from deepkit.model.base import make_model
from deepkit.tfenv import tf, v1


def parameter_counts(model_params: dict) -> dict[str, int]:
    """Trainable parameters of the model a normalised `model` section describes:
    {"descriptor": n, "fitting-net": n, "total": n} (DeePMD-kit's `dp show ... size`).

    Counted on graphs built for the purpose, so a compressed model counts the networks it
    was trained with, and parts trained with `trainable: false` count too; the fitting net
    is the rest of the model beyond the descriptor."""
    params = copy.deepcopy(model_params)
    for part in ("descriptor", "fitting_net"):
        if "trainable" in params.get(part, {}):
            params[part]["trainable"] = True
    model = make_model(params)
    with tf.Graph().as_default():
        inputs = model.placeholders()
        nframes, natoms = tf.shape(inputs["atype"])[0], tf.shape(inputs["atype"])[1]
        coord = tf.reshape(inputs["coord"], [nframes, natoms, 3])
        model.descriptor.build(coord, inputs["atype"], inputs["box"])
        descriptor = _count(v1.trainable_variables())
    with tf.Graph().as_default():
        model.build(**model.placeholders())
        total = _count(v1.trainable_variables())
    return {"descriptor": descriptor, "fitting-net": total - descriptor, "total": total}


def _count(variables: list) -> int:
    return sum(int(v.shape.num_elements()) for v in variables)
