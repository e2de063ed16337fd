"""The built-in models, registered in deepkit.registry.MODELS on import. A new model is one
module plus its line here."""

import deepkit.model.ener_model
import deepkit.model.tensor_model  # noqa: F401
