"""The fitting contract: a fitting maps each atom's descriptor (with optional frame and
atomic parameters) to its contribution to the model's output. Implementations register
with `@FITTINGS.register` (deepkit/fit/__init__.py imports each module once)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from deepkit.config.args import Group
from deepkit.registry import FITTINGS

if TYPE_CHECKING:
    from deepkit.data.stat_frames import FrameChoice
    from deepkit.data.system import System
    from deepkit.tfenv import tf


def make_fitting(params: dict, ntypes: int, mixed_types: bool = False) -> Fitting:
    """The fitting named by params["type"], from normalised input keys; mixed_types: one
    net for all types, for descriptors whose output carries the atom's type embedding."""
    cls = FITTINGS.get(params["type"])
    fitting = cls(ntypes=ntypes, **{k: v for k, v in params.items() if k != "type"})
    fitting.mixed_types = mixed_types
    return fitting


class Fitting(ABC):
    """Per-atom outputs from descriptors, inside a graph."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str]
    schema: ClassVar[Group]
    example: ClassVar[dict]  # minimal keys, for tests/test_battery.py
    # The model this fitting makes (deepkit.registry.MODELS), e.g. "ener".
    model_type: ClassVar[str]

    numb_fparam: int = 0
    numb_aparam: int = 0
    # One net shared by all types instead of one per type (set by make_fitting).
    mixed_types: bool = False

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        """Cross-key checks of normalised params; InputError names the key under `path`."""

    @abstractmethod
    def compute_statistics(
        self, systems: Sequence[System], type_map: list[str], frames: FrameChoice = None
    ) -> None:
        """Output bias and parameter normalisation from the training data, over the frames
        `frames` picks (data/stat_frames.py; None: all) where the fitting samples frames."""

    @abstractmethod
    def build(
        self,
        descriptor: tf.Tensor,
        atype: tf.Tensor,
        fparam: tf.Tensor | None = None,
        aparam: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """descriptor (nf * natoms, dim), atype (nf, natoms) -> per-atom outputs."""
