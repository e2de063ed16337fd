"""Descriptors, one module each, registered in deepkit.registry.DESCRIPTORS; the numpy
environment-matrix helper. A new descriptor is one module plus its line here."""

import deepkit.descriptor.hybrid
import deepkit.descriptor.se_atten
import deepkit.descriptor.se_e2_a
import deepkit.descriptor.se_e2_r
import deepkit.descriptor.se_e3  # noqa: F401
from deepkit.descriptor.env_mat import NeighborOverflowWarning, env_mat

__all__ = ["NeighborOverflowWarning", "env_mat"]
