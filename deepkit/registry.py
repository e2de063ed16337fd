"""Registries of the extension points: descriptors, fittings, losses, models.

A class registers itself by name with its schema (a config.args.Group of its keys) and a
one-line doc; the input schema's variants for `model.descriptor` and `model.fitting_net`
are made from what is registered. The built-in implementations are imported on first
use (`package`'s __init__ imports one module per implementation), so reading the schema
module alone stays cheap and this module imports no implementation.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from deepkit.errors import InputError

T = TypeVar("T", bound=type)


class Registry:
    """Classes by input name. Each class declares `name`, `doc`, `schema` and optionally
    `aliases` (older DeePMD-kit names)."""

    def __init__(self, what: str, package: str) -> None:
        self.what, self.package = what, package  # e.g. "model.descriptor", "deepkit.descriptor"
        self._classes: dict[str, type] = {}

    def register(self, cls: T) -> T:
        """Class decorator."""
        for name in (cls.name, *getattr(cls, "aliases", ())):
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            self._classes[name] = cls
        return cls

    def classes(self) -> dict[str, type]:
        """Every registered class by its own name (aliases left out), built-ins loaded."""
        importlib.import_module(self.package)
        return {name: cls for name, cls in self._classes.items() if cls.name == name}

    def get(self, name: str) -> type:
        """The class registered as `name` (or an alias); InputError with the closest name."""
        self.classes()
        if name not in self._classes:
            close = difflib.get_close_matches(name, list(self._classes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{self.what}.type: unknown {name!r}{hint}")
        return self._classes[name]

    def variants(
        self, unsupported: tuple[str, ...] = (), refused: dict | None = None, **options: Any
    ) -> Callable[[], Any]:
        """The schema's Variants of every registered class, made on first use. unsupported:
        DeePMD-kit's names deepkit lacks (those registered by then drop out, so a new class
        needs no edit here); refused: registered names left out of these variants, each
        with the reason its error gives (a hybrid inside a hybrid); options: default."""
        from deepkit.config.args import Variants

        refused = dict(refused or {})
        made: list = []

        def build() -> Any:
            if not made:
                classes = {n: c for n, c in self.classes().items() if n not in refused}
                made.append(
                    Variants(
                        {name: cls.schema for name, cls in classes.items()},
                        aliases={
                            alias: name
                            for name, cls in classes.items()
                            for alias in getattr(cls, "aliases", ())
                        },
                        doc={name: cls.doc for name, cls in classes.items()},
                        unsupported=tuple(n for n in unsupported if n not in self._classes),
                        refused=refused,
                        **options,
                    )
                )
            return made[0]

        return build


DESCRIPTORS = Registry("model.descriptor", "deepkit.descriptor")
FITTINGS = Registry("model.fitting_net", "deepkit.fit")
LOSSES = Registry("loss", "deepkit.loss")
# Models by model type; a fitting names the model it makes (Fitting.model_type).
MODELS = Registry("model", "deepkit.model.builtin")
