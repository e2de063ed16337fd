"""Losses, one module each, registered in deepkit.registry.LOSSES. A new loss is one module
plus its line here."""

import deepkit.loss.ener
import deepkit.loss.tensor  # noqa: F401
