"""Fitting nets: descriptors to per-atom properties, one module each, registered in
deepkit.registry.FITTINGS. A new fitting is one module plus its line here."""

import deepkit.fit.dipole
import deepkit.fit.ener
import deepkit.fit.polar  # noqa: F401
