"""Names an input may give for a net's activation and precision: the schema checks against
them here, below the nets (deepkit.nn.layers maps each name to its TensorFlow function)."""

ACTIVATION_NAMES = (
    "tanh",
    "gelu",
    "gelu_tf",
    "relu",
    "relu6",
    "softplus",
    "sigmoid",
    "linear",
    "none",
)

PRECISIONS = {"default": "float64", "float64": "float64", "float32": "float32"}
