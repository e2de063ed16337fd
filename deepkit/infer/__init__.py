"""Inference with frozen models."""

from deepkit.infer.deep_pot import DeepPot
from deepkit.infer.model_devi import model_devi

__all__ = ["DeepPot", "model_devi"]
