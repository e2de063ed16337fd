"""Descriptors (se_e2_a, se_e2_r, ...) and the numpy environment-matrix helper."""

from deepkit.descriptor.env_mat import NeighborOverflowWarning, env_mat

__all__ = ["NeighborOverflowWarning", "env_mat"]
