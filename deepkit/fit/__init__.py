"""Fitting nets: descriptors to per-atom properties, one module each, registered in
deepkit.registry.FITTINGS. A new fitting is one module plus its line here."""

import deepkit.fit.ener  # noqa: F401
