"""hybrid: registered descriptors side by side, each with its own keys (rcut, rcut_smth, sel,
nets), their per-atom outputs concatenated in list order for the fitting net.

Each part builds its own neighbour list at its own cut-off (the simplest correct choice: a
short-range angular part beside a long-range radial one then pays for its short list only)
and contributes its own environment matrices, so forces and virials sum over every part
(model/derivatives.py). Part i's variables live under the scope prefix "part<i>_". The
frozen model records the largest cut-off and the parts' sels concatenated."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit.config.args import REQUIRED, Arg, Group
from deepkit.config.model import DEEPMD_DESCRIPTORS
from deepkit.descriptor.base import Descriptor, DescriptorOut, Tabulable, make_descriptor
from deepkit.descriptor.se_e2_a import SeE2A
from deepkit.descriptor.se_e2_r import SeE2R
from deepkit.descriptor.se_e3 import SeE3
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf


def _not_empty(value) -> str | None:
    return None if value else "must hold at least one descriptor"


@DESCRIPTORS.register
class Hybrid(Descriptor, Tabulable):
    """Several descriptors of one atom, concatenated."""

    name = "hybrid"
    doc = (
        "several descriptors, each with its own cut-off and sel, outputs concatenated; "
        "compressible when every part is"
    )
    schema = Group(
        [
            Arg(
                "list",
                "list[dict]",
                REQUIRED,
                "The descriptors, each a dict with its own `type` and keys",
                check=_not_empty,
                variants=DESCRIPTORS.variants(
                    unsupported=DEEPMD_DESCRIPTORS,
                    refused={"hybrid": "a hybrid cannot hold a hybrid; list its parts here"},
                ),
            )
        ]
    )
    # Three parts with three cut-offs: two- and three-body parts beside each other, so the
    # physics battery covers hybrid(se_e2_a, se_e2_r) and hybrid(se_e2_a, se_e3) at once.
    example: ClassVar[dict] = {
        "list": [
            {"type": SeE2A.name, **SeE2A.example},
            {"type": SeE2R.name, **SeE2R.example, "rcut": 3.0, "seed": 2},
            {"type": SeE3.name, **SeE3.example, "rcut": 3.5, "seed": 3},
        ]
    }

    def __init__(self, *, ntypes, list, type_embedding=None, type_map=None):  # DeePMD's "list"
        self.ntypes = ntypes
        # One model.type_embedding for every part that takes one: they share its variables.
        self.parts = [make_descriptor(params, ntypes, type_embedding, type_map) for params in list]
        for i, part in enumerate(self.parts):
            part.scope = f"part{i}_"
        self.rcut = max(part.rcut for part in self.parts)

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        for i, part in enumerate(params["list"]):
            DESCRIPTORS.get(part["type"]).check(part, ntypes, f"{path}.list[{i}]")

    @classmethod
    def accepts_type_embedding(cls, params: dict) -> bool:
        return any(
            DESCRIPTORS.get(part["type"]).accepts_type_embedding(part) for part in params["list"]
        )

    @property
    def mixed_types(self) -> bool:
        return any(part.mixed_types for part in self.parts)

    @classmethod
    def neighbor_parts(cls, params: dict) -> list[tuple[str, dict]]:
        return [
            (f".list[{i}]{path}", found)
            for i, part in enumerate(params["list"])
            for path, found in DESCRIPTORS.get(part["type"]).neighbor_parts(part)
        ]

    # -- contract --------------------------------------------------------------------------
    def metadata(self) -> dict:
        sel = [s for part in self.parts for s in part.metadata()["sel"]]
        return {"type": self.name, "rcut": self.rcut, "sel": sel}

    @property
    def dim_out(self) -> int:
        return sum(part.dim_out for part in self.parts)

    def compute_input_stats(self, systems, type_map, frames, protect):
        for part in self.parts:
            part.compute_input_stats(systems, type_map, frames, protect)

    def state(self):
        return {name: value for part in self.parts for name, value in part.state().items()}

    def load_state(self, values, where):
        for part in self.parts:
            part.load_state(values, where)

    def build(self, coord, atype, box) -> DescriptorOut:
        return self._join([part.build(coord, atype, box) for part in self.parts])

    def build_external(self, coord, atype, nloc, offsets, neighbors) -> DescriptorOut:
        # The caller's candidates cover the largest cut-off; each part keeps its own.
        return self._join(
            [part.build_external(coord, atype, nloc, offsets, neighbors) for part in self.parts]
        )

    @staticmethod
    def _join(outs: list[DescriptorOut]) -> DescriptorOut:
        d = [out.d for out in outs]
        if len({x.dtype for x in d}) > 1:  # parts of different precision
            d = [tf.cast(x, tf.float64) for x in d]
        overflow = [out.table_overflow for out in outs if out.table_overflow is not None]
        return DescriptorOut(
            tf.concat(d, axis=1),
            tuple(env for out in outs for env in out.envs),
            tf.add_n(overflow) if overflow else None,
            per_atom=Hybrid._joined_per_atom(outs),
        )

    @staticmethod
    def _joined_per_atom(outs: list[DescriptorOut]):
        """The parts' per_atom side by side (None unless every part has one)."""
        if any(out.per_atom is None for out in outs):
            return None
        bounds = np.cumsum([0, *(len(out.envs) for out in outs)])

        def per_atom(ems, nlists, atype_flat):
            d = [
                out.per_atom(ems[begin:end], nlists[begin:end], atype_flat)
                for out, begin, end in zip(outs, bounds[:-1], bounds[1:], strict=True)
            ]
            return tf.concat([tf.cast(x, tf.float64) for x in d], axis=1)

        return per_atom

    # -- compression: the parts' tables under their own scopes -----------------------------
    def untabulable(self) -> str | None:
        for i, part in enumerate(self.parts):
            if not isinstance(part, Tabulable):
                return (
                    f"descriptor 'hybrid' cannot be compressed: its part list[{i}] "
                    f"({part.name!r}) has no tables"
                )
            why = part.untabulable()
            if why:
                return why
        return None

    @property
    def tables(self):
        found = [part.tables for part in self.parts if getattr(part, "tables", None)]
        return {scope: t for tables in found for scope, t in tables.items()} if found else None

    @tables.setter
    def tables(self, value):
        for part in self.parts:
            if isinstance(part, Tabulable):
                part.tables = None if value is None else {s: value[s] for s in part.net_scopes()}

    def net_scopes(self) -> list[str]:
        return [s for part in self.parts if isinstance(part, Tabulable) for s in part.net_scopes()]

    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        return {
            scope: bounds
            for part in self.parts
            for scope, bounds in part.input_ranges(min_nbor_dist).items()
        }

    def net_spec(self, scope: str) -> tuple[list[int], str, bool]:
        return self._owner(scope).net_spec(scope)

    def net_layers(self, scope: str, consts: dict) -> list:
        return self._owner(scope).net_layers(scope, consts)

    def _owner(self, scope: str):
        for part in self.parts:
            if isinstance(part, Tabulable) and scope in part.net_scopes():
                return part
        raise KeyError(scope)
