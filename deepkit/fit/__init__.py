"""Fitting nets: descriptors to per-atom properties."""
