"""What every descriptor built on a normalised environment matrix shares: its metadata, the
avg/std statistics per centre type (computed from data, kept as `descrpt_attr/t_avg`,
`t_std` under the descriptor's scope) and the graph variables that hold them."""

from __future__ import annotations

import numpy as np

from deepkit.descriptor.base import Descriptor, required
from deepkit.descriptor.stats import env_mat_stats
from deepkit.model import names
from deepkit.nn.layers import constant_variable
from deepkit.tfenv import v1


class NormalisedEnvMat(Descriptor):
    """A descriptor with attributes rcut, rcut_smth, sel, set_davg_zero, env_kind ("a" or
    "r") and the statistics avg, std (ntypes, nnei, ncomp)."""

    env_kind: str
    avg: np.ndarray
    std: np.ndarray

    def metadata(self) -> dict:
        return {"type": self.name, "rcut": self.rcut, "sel": list(self.sel)}

    def compute_input_stats(self, systems, type_map, frames, protect):
        self.avg, self.std = env_mat_stats(
            systems,
            type_map,
            self.rcut,
            self.rcut_smth,
            self.sel,
            self.env_kind,
            frames=frames,
            protect=protect,
            set_davg_zero=self.set_davg_zero,
            mixed_types=self.type_blind,
        )

    @property
    def _attr_scope(self) -> str:
        return self.scope + names.DESCRIPTOR_AVG.split("/")[0]

    def state(self) -> dict[str, np.ndarray]:
        return {f"{self._attr_scope}/t_avg": self.avg, f"{self._attr_scope}/t_std": self.std}

    def load_state(self, values, where):
        self.avg = required(values, f"{self._attr_scope}/t_avg", where)
        self.std = required(values, f"{self._attr_scope}/t_std", where)

    def _statistics(self):
        """The avg and std graph variables (non-trainable, folded by freeze)."""
        with v1.variable_scope(self._attr_scope, reuse=v1.AUTO_REUSE):
            return constant_variable("t_avg", self.avg), constant_variable("t_std", self.std)
