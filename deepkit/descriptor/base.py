"""The descriptor contract: what a model, the trainer, freeze and compress need from a
descriptor, and nothing more. Implementations live one per module and register with
`@DESCRIPTORS.register` (deepkit/descriptor/__init__.py imports each module once).

A descriptor class declares
  name, aliases, doc   its input "type" (and DeePMD-kit's older names), one line of doc
  schema               the config.args.Group of its keys; the input's variants come from it
  example              minimal keys for two types: the test battery builds it from them
  check(params, ...)   cross-key checks that one key's schema cannot express
and an instance provides
  metadata()           what the frozen model records of it (type, rcut, sel)
  compute_input_stats  statistics from the training data, before build()
  state() / load_state the statistics by variable name, under its own `scope`
  build / build_external -> DescriptorOut(d, envs): descriptors and the environment
                       matrices the forces and virials are summed over (model/derivatives.py)
  rot_mat_width()      M of the M x 3 rotation matrix build() also returns, or None: tensor
                       fittings (dipole, polar) need one
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepkit.config.args import Group
from deepkit.errors import InputError
from deepkit.nn.tabulate import layers_of
from deepkit.registry import DESCRIPTORS

if TYPE_CHECKING:
    from deepkit.data.stat_frames import FrameChoice
    from deepkit.data.system import System
    from deepkit.tfenv import tf


@dataclass(frozen=True)
class EnvMat:
    """One environment matrix of a descriptor and what its derivatives need (deepkit.ops):
    em (nf, nloc, nnei * ncomp) and em_deriv (.., nnei * ncomp * 3), rij (nf, nloc, nnei * 3),
    nlist (nf, nloc, nnei), max_count (nf, ntypes) neighbours within rcut per type, and the
    sel those slots were sized for (to warn when max_count exceeds it)."""

    em: Any
    em_deriv: Any
    rij: Any
    nlist: Any
    max_count: Any
    sel: tuple[int, ...]


@dataclass(frozen=True)
class DescriptorOut:
    """d (nf * nloc, dim_out); envs, every environment matrix d depends on; table_overflow
    (nf,) for compressed descriptors: net inputs beyond their tables, else None; rot_mat
    (nf * nloc, rot_mat_width(), 3) float64, the rotation matrix that makes tensor fittings
    equivariant, for descriptors that have one (else None).

    per_atom, where the descriptor can give it: the same d for any subset of the atoms,
    per_atom(ems, nlists, atype) -> (c, dim_out) from each env's em rows of those c atoms,
    (c, nnei * ncomp), and neighbour lists (c, nnei), in `envs` order, and their types (c,);
    frozen models stream atoms through it in chunks (deepkit.nn.streamed) instead of using
    d."""

    d: Any
    envs: tuple[EnvMat, ...]
    table_overflow: Any = None
    rot_mat: Any = None
    per_atom: Callable[[list, list, Any], Any] | None = None


def make_descriptor(
    params: dict,
    ntypes: int,
    type_embedding: dict | None = None,
    type_map: list[str] | None = None,
) -> Descriptor:
    """The descriptor named by params["type"], from normalised input keys; type_embedding:
    the normalised `model.type_embedding`, for the descriptors that take one, with the
    model's type_map (the electronic-configuration embedding reads the elements)."""
    cls = DESCRIPTORS.get(params["type"])
    keys = {k: v for k, v in params.items() if k != "type"}
    if cls.accepts_type_embedding(params):
        keys["type_embedding"], keys["type_map"] = type_embedding, type_map
    return cls(ntypes=ntypes, **keys)


class Descriptor(ABC):
    """Turns coordinates into per-atom descriptors inside a graph."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str]
    schema: ClassVar[Group]
    # The smallest keys that make a working instance for two types (type_map O H): the
    # physics battery of tests/test_battery.py builds every registered descriptor from it.
    example: ClassVar[dict]

    # True when the neighbour list holds the nearest atoms of any type in one block (sel
    # has one entry; sel "auto" counts neighbours of any type).
    type_blind: ClassVar[bool] = False

    ntypes: int
    rcut: float
    # Prefix of every variable scope of this descriptor; "" at the top of a model (the
    # names earlier releases froze), "<part>_" inside a hybrid so parts never collide.
    scope: str = ""

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        """Cross-key checks of normalised params; InputError names the key under `path`."""

    @classmethod
    def accepts_type_embedding(cls, params: dict) -> bool:
        """Whether this descriptor takes `model.type_embedding` (a `type_embedding=`
        argument, None when the input has none)."""
        del params
        return False

    @property
    def mixed_types(self) -> bool:
        """True when d carries each atom's type embedding, so one fitting net serves every
        type (make_fitting's mixed_types)."""
        return False

    @classmethod
    def neighbor_parts(cls, params: dict) -> list[tuple[str, dict]]:
        """(key path below the descriptor, dict) of every dict of normalised params that
        holds an `rcut` and a `sel`: the params themselves, or a hybrid's parts. The
        trainer resolves sel "auto" in them in place; their sels concatenated in this order
        are the model's sel (one block per environment matrix)."""
        return [("", params)]

    def rot_mat_width(self) -> int | None:
        """Rows M of the per-atom rotation matrix (M x 3, rotating with the frame) that
        build() returns in DescriptorOut.rot_mat; None when the descriptor has none."""
        return None

    @abstractmethod
    def metadata(self) -> dict:
        """The frozen model's record of this descriptor: type, rcut, sel."""

    @property
    @abstractmethod
    def dim_out(self) -> int:
        """Width of the descriptor of one atom."""

    @abstractmethod
    def compute_input_stats(
        self, systems: Sequence[System], type_map: list[str], frames: FrameChoice, protect: float
    ) -> None:
        """Statistics (e.g. env-mat normalisation) from the training data, before build(),
        over the frames `frames` picks (data/stat_frames.py)."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """The statistics by the variable name they take in the graph."""

    @abstractmethod
    def load_state(self, values: dict[str, np.ndarray], where: str) -> None:
        """Take the statistics back from constants by name (a frozen model at `where`)."""

    @abstractmethod
    def build(self, coord: tf.Tensor, atype: tf.Tensor, box: tf.Tensor) -> DescriptorOut:
        """coord (nf, natoms, 3), atype (nf, natoms), box (nf, 9)."""

    @abstractmethod
    def build_external(
        self,
        coord: tf.Tensor,
        atype: tf.Tensor,
        nloc: tf.Tensor,
        offsets: tf.Tensor,
        neighbors: tf.Tensor,
    ) -> DescriptorOut:
        """The same from a caller's neighbour list (ops.external_neighbor_list): coord
        (nf, nall, 3), atype (nf, nall), local atoms first; d covers the nloc local atoms."""


class Tabulable(ABC):
    """A descriptor whose embedding nets `deepkit compress` can replace by tables: it lists
    the nets and the range of their (scalar) input, and builds from `tables` when set."""

    tables: dict | None  # net scope -> nn.tabulate.Table, None when not compressed

    @abstractmethod
    def net_scopes(self) -> list[str]:
        """The variable scope of every embedding net."""

    @abstractmethod
    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        """[lower, upper] of each net's input for atoms no closer than min_nbor_dist."""

    @abstractmethod
    def net_spec(self, scope: str) -> tuple[list[int], str, bool]:
        """(layer widths, activation, resnet_dt) of the embedding net under `scope`."""

    def untabulable(self) -> str | None:
        """Why this descriptor cannot be tabulated after all (a hybrid with a part that
        cannot), else None."""
        return None

    def net_layers(self, scope: str, consts: dict) -> list:
        """The layers (nn.tabulate.Layer) of the scalar-input net tabulated as `scope`, from
        a frozen model's constants: by default the net's own variables under that scope."""
        neuron, _, resnet_dt = self.net_spec(scope)
        return layers_of(consts, scope, len(neuron), resnet_dt)

    def table_variables(self, scope: str) -> tuple[tf.Variable, tf.Variable]:
        """(coefficients, info) of the table of `scope` as graph variables. Non-trainable
        variables rather than constants: checkpoints of a fine-tuned compressed model then
        carry the tables, and freezing folds them back."""
        from deepkit.model import names
        from deepkit.nn.layers import constant_variable
        from deepkit.tfenv import v1

        table = self.tables[scope]
        with v1.variable_scope(f"{names.TABLE_PREFIX}/{scope}", reuse=v1.AUTO_REUSE):
            return constant_variable("table", table.coefficients), constant_variable(
                "info", table.info
            )


def required(values: dict, name: str, where: str) -> np.ndarray:
    """values[name], or an InputError saying what `where` lacks."""
    if name not in values:
        raise InputError(
            f"{where}: not a deepkit model, or frozen by an older deepkit ({name} missing)"
        )
    return values[name]
