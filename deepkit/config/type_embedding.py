"""Keys of `model.type_embedding` (DeePMD-kit's names and defaults): the net that gives each
element a learned vector (deepkit.nn.type_embedding)."""

from __future__ import annotations

from deepkit.config.args import Arg, Group, layer_widths, one_of, seed
from deepkit.config.choices import ACTIVATION_NAMES, PRECISIONS


def type_embedding_args(width: int = 8, activation: str = "tanh") -> list[Arg]:
    """The keys of a type embedding; a descriptor that builds its own (se_atten without
    `model.type_embedding`) gives its width and activation."""
    return [
        Arg(
            "neuron",
            "list[int]",
            [width],
            "Widths of the type embedding net; the last is the embedding's width",
            check=layer_widths,
        ),
        Arg(
            "activation_function",
            "str",
            activation,
            "Type embedding net activation",
            check=one_of(*ACTIVATION_NAMES),
        ),
        Arg("resnet_dt", "bool", False, "Timestep-scaled residual connections"),
        Arg(
            "precision",
            "str",
            "default",
            "Precision of the type embedding net (default: float64)",
            check=one_of(*PRECISIONS),
        ),
        Arg("trainable", "bool", True, "Whether the type embedding is trained"),
        Arg("seed", "int|None", None, "Random seed of the initial parameters", check=seed),
        Arg(
            "use_econf_tebd",
            "bool",
            False,
            "Start from each element's electronic configuration instead of a one-hot "
            "vector (DeePMD-kit's 118 entries; needs model.type_map of elements)",
        ),
        Arg("use_tebd_bias", "bool", False, "Biases in the type embedding net's layers"),
    ]


TYPE_EMBEDDING = Group(type_embedding_args())
