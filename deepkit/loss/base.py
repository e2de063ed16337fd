"""The loss contract: a loss compares a model's outputs with the labels of a batch and says
which errors the learning curve reports. Implementations register with
`@LOSSES.register` (deepkit/loss/__init__.py imports each module once)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from deepkit.config.args import Group
from deepkit.registry import LOSSES


def make_loss(params: dict, start_lr: float) -> Loss:
    """The loss named by params["type"], from normalised input keys. start_lr: the learning
    rate at step 0 (prefactors that follow the rate are scaled by lr / start_lr)."""
    cls = LOSSES.get(params["type"])
    return cls({k: v for k, v in params.items() if k != "type"}, start_lr)


class Loss(ABC):
    """A scalar to minimise and the rmse metrics the learning curve shows."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str]
    schema: ClassVar[Group]

    def __init__(self, params: dict, start_lr: float) -> None:
        self.params, self.start_lr = params, start_lr

    @abstractmethod
    def metric_names(self) -> list[str]:
        """The lcurve columns, in order: "rmse" first, then one per term in use."""

    @abstractmethod
    def build(self, lr: Any, natoms: Any, outputs: dict, labels: dict) -> tuple[Any, dict]:
        """(loss, {metric name: rmse tensor}) from the model's outputs and the label
        placeholders (label key and find_<key>, as Model.labels declares them)."""
