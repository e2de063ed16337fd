"""Inference with frozen models."""

from deepkit.infer.deep_pot import DeepPot

__all__ = ["DeepPot"]
