"""Inference with frozen models."""

from deepkit.infer.deep_pot import DeepPot, FrozenModel
from deepkit.infer.deep_tensor import DeepDipole, DeepPolar, DeepTensor
from deepkit.infer.model_devi import model_devi

__all__ = ["DeepDipole", "DeepPolar", "DeepPot", "DeepTensor", "FrozenModel", "model_devi"]
