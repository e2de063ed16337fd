"""The model contract: what the trainer, batching, freeze and `deepkit test` need from a
model, so none of them names a model kind.

A model class declares
  name, doc        its model type ("ener"), stored as model_attr/model_type when frozen
  labels           the data arrays it trains on (Label: key, per atom or per frame, width)
  default_loss     the loss type an input without `loss.type` gets
and an instance provides
  placeholders()   its inputs by role (coord, atype, box, fparam, aparam) on names.py nodes
  build(**inputs)  its outputs by role, node names from names.py
  build_inference  both entry points of a frozen model (periodic and external list)
  frozen_nodes     the node names a frozen model keeps (outputs and metadata)
  compute_statistics(systems, frames)   statistics from the training data, before build()
Models register with `@MODELS.register`; the fitting named in the input says which model
it makes (Fitting.model_type), and make_model builds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from deepkit.data.stat_frames import FrameChoice
from deepkit.data.system import System
from deepkit.errors import InputError
from deepkit.model import names
from deepkit.registry import FITTINGS, MODELS
from deepkit.tfenv import tf, v1


@dataclass(frozen=True)
class Label:
    """A training label: the data array `key` (data.system.LABELS), per atom or per frame,
    `width` columns per atom or per frame, fed to the placeholder `node`."""

    key: str
    per_atom: bool
    width: int
    node: str

    def placeholder_shape(self) -> list:
        """The placeholder's shape: (nf,), (nf, width) or (nf, natoms * width)."""
        if self.per_atom:
            return [None, None]  # (nf, natoms * width)
        return [None] if self.width == 1 else [None, self.width]

    def feed_shape(self, nframes: int, natoms: int) -> tuple[int, ...]:
        """The shape a batch's array is fed in."""
        if self.per_atom:
            return (nframes, natoms * self.width)
        return (nframes,) if self.width == 1 else (nframes, self.width)


def make_model(model_params: dict) -> Model:
    """The model the input's fitting net makes, from the normalised `model` section."""
    fitting = FITTINGS.get(model_params["fitting_net"]["type"])
    return MODELS.get(fitting.model_type)(model_params)


def model_class(model_type: str) -> type[Model]:
    """The registered class of a frozen model's model_attr/model_type."""
    return MODELS.get(model_type)


class Model(ABC):
    """A descriptor and a fitting net in one static graph, built from the normalised `model`
    section of an input."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str]
    labels: ClassVar[tuple[Label, ...]]
    default_loss: ClassVar[str]
    frozen_nodes: ClassVar[tuple[str, ...]]

    type_map: list[str]
    descriptor: Any  # deepkit.descriptor.base.Descriptor
    fitting: Any  # deepkit.fit.base.Fitting
    data_stat_nbatch: int
    # Closest pair distance of the training data (Angstrom; <= 0 unknown), set by the
    # trainer from its neighbour scan and kept with the model for compression.
    min_nbor_dist: float

    @property
    def model_type(self) -> str:
        """names.ATTR_MODEL_TYPE of its frozen form."""
        return self.name

    def extra_metadata(self) -> dict:
        """Frozen-model constants of this kind beyond names.FROZEN_ATTRS, by node name."""
        return {}

    @abstractmethod
    def compute_statistics(self, systems: Sequence[System], frames: FrameChoice) -> None:
        """Statistics of the descriptor and fitting from the training systems, over the
        frames `frames` picks (data/stat_frames.py: training's stat batches, or up to a
        count of each system)."""

    @abstractmethod
    def placeholders(self) -> dict:
        """The model's inputs by role, on their names.py nodes."""

    @abstractmethod
    def build(self, **inputs: tf.Tensor) -> dict:
        """The outputs by role from the placeholders()."""

    @abstractmethod
    def build_inference(self) -> dict:
        """Every entry point of a frozen model on its placeholders; the first's outputs."""

    def label_placeholders(self) -> dict:
        """A placeholder per label and a scalar find_<key> (1.0 when the batch has it)."""
        labels = {}
        for label in self.labels:
            labels[label.key] = v1.placeholder(tf.float64, label.placeholder_shape(), label.node)
            labels[f"find_{label.key}"] = v1.placeholder(
                tf.float64, [], names.FIND_PREFIX + label.key
            )
        return labels

    def feed(self, batch: dict, inputs: dict, labels: dict | None = None) -> dict:
        """A batch of data.batching.DataSystems as a feed for placeholders() (and
        label_placeholders(), when given); a label the batch lacks is fed zeros and
        find_<key> = 0."""
        nframes, natoms = batch["coord"].shape[:2]
        feed = {
            inputs["coord"]: batch["coord"].reshape(nframes, -1),
            inputs["atype"]: np.broadcast_to(batch["atype"], (nframes, natoms)),
            inputs["box"]: batch["box"],
        }
        for key in ("fparam", "aparam"):
            if key in inputs:
                if key not in batch:
                    raise InputError(
                        f"{batch['path']}: no {key}.npy, but the model's fitting net uses {key}"
                    )
                feed[inputs[key]] = batch[key].reshape(nframes, -1)
        for label in () if labels is None else self.labels:
            shape = label.feed_shape(nframes, natoms)
            found = label.key in batch
            feed[labels[label.key]] = batch[label.key].reshape(shape) if found else np.zeros(shape)
            feed[labels[f"find_{label.key}"]] = float(found)
        return feed
