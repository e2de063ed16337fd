"""Tensor models: descriptor + dipole or polar fitting -> atomic tensors of the selected
types and their sum, the global tensor; a frozen model also carries the derivative of the
global tensor with respect to the coordinates (DPLR, IR / Raman from MD)."""

from __future__ import annotations

import numpy as np

from deepkit.descriptor.base import DescriptorOut, make_descriptor
from deepkit.errors import InputError
from deepkit.fit.base import make_fitting
from deepkit.fit.tensor import full_atomic
from deepkit.model import names
from deepkit.model.base import Label, Model
from deepkit.model.derivatives import forces_and_virials, neighbor_counts
from deepkit.nn.layers import constant_variable
from deepkit.registry import MODELS
from deepkit.tfenv import tf, v1


class TensorModel(Model):
    """Atomic and global tensors; built from the normalised `model` section of an input.
    Subclasses name the kind (the fitting type) and its label key and width."""

    label: str
    width: int
    default_loss = "tensor"
    frozen_nodes = (
        *(n for k, n in names.TENSOR_OUTPUTS.items()),
        *(n for k, n in names.EXT_TENSOR_OUTPUTS.items()),
        *names.FROZEN_ATTRS,
        names.ATTR_SEL_TYPE,
        *names.FROZEN_OPTIONAL,
    )

    def __init__(self, model_params: dict):
        self.type_map = list(model_params["type_map"])
        ntypes = len(self.type_map)
        self.descriptor = make_descriptor(
            model_params["descriptor"],
            ntypes,
            model_params.get("type_embedding"),
            self.type_map,
        )
        if self.descriptor.rot_mat_width() is None:
            raise InputError(
                f"model.fitting_net.type: {self.name!r} needs a descriptor with a rotation "
                f"matrix (se_e2_a); {self.descriptor.name!r} has none"
            )
        self.fitting = make_fitting(
            model_params["fitting_net"], ntypes, self.descriptor.mixed_types
        )
        self.data_stat_nbatch = model_params["data_stat_nbatch"]
        self.data_stat_protect = model_params["data_stat_protect"]
        self.min_nbor_dist = -1.0

    @classmethod
    def make_labels(cls, label: str, width: int) -> tuple[Label, ...]:
        return (
            Label(label, per_atom=False, width=width, node=names.LABEL_TENSOR_PREFIX + label),
            Label(
                f"atomic_{label}",
                per_atom=True,
                width=width,
                node=f"{names.LABEL_TENSOR_PREFIX}atomic_{label}",
            ),
        )

    @property
    def sel_type(self) -> list[int]:
        return list(self.fitting.sel_type)

    def extra_metadata(self) -> dict:
        return {names.ATTR_SEL_TYPE: np.array(self.sel_type, np.int32)}

    def compute_statistics(self, systems, frames) -> None:
        """Env-mat normalisation (and the polar fitting's diagonal shift). Every system
        must have a tensor label, global or atomic, of the right width."""
        key = f"atomic_{self.label}"
        for system in systems:
            if system.mixed_type:  # the atomic labels and sel_type are per fixed atom
                raise InputError(
                    f"{system.path}: a mixed-type system (real_atom_types.npy); "
                    f"{self.name} models train only on systems whose atom types are fixed"
                )
            if not (system.has_label(self.label) or system.has_label(key)):
                raise InputError(
                    f"{system.path}: no {self.label}.npy or {key}.npy, the labels a "
                    f"{self.name!r} model trains on"
                )
            if system.has_label(key):
                arrays = system.load_set(0).arrays
                selected = self.fitting.selected(system.type_indices(self.type_map))
                full_atomic(
                    arrays[key], selected, self.width, f"{system.path}/{system.sets[0]}/{key}.npy"
                )
        self.descriptor.compute_input_stats(systems, self.type_map, frames, self.data_stat_protect)
        self.fitting.compute_statistics(systems, self.type_map, frames)

    def placeholders(self) -> dict:
        return {
            "coord": v1.placeholder(tf.float64, [None, None], names.COORD),
            "atype": v1.placeholder(tf.int32, [None, None], names.ATYPE),
            "box": v1.placeholder(tf.float64, [None, 9], names.BOX),
        }

    def feed(self, batch: dict, inputs: dict, labels: dict | None = None) -> dict:
        """As Model.feed; an atomic label of the selected atoms only is spread over all."""
        key = f"atomic_{self.label}"
        if labels is not None and key in batch:
            selected = self.fitting.selected(np.asarray(batch["atype"]))
            where = f"{batch['path']}: {key}.npy"
            batch = {**batch, key: full_atomic(batch[key], selected, self.width, where)}
        return super().feed(batch, inputs, labels)

    def build(self, coord, atype, box, with_deriv: bool = False) -> dict:
        """coord (nf, natoms*3), atype (nf, natoms), box (nf, 9) -> named outputs;
        with_deriv: also the tensor's component-wise force and virial
        (frozen models)."""
        nframes, natoms = tf.shape(atype)[0], tf.shape(atype)[1]
        with v1.variable_scope(names.MIN_NBOR_DIST.split("/")[0], reuse=v1.AUTO_REUSE):
            constant_variable(names.MIN_NBOR_DIST.split("/")[1], float(self.min_nbor_dist))
        descriptor = self.descriptor.build(tf.reshape(coord, [nframes, natoms, 3]), atype, box)
        return self._outputs(descriptor, atype, natoms, names.TENSOR_OUTPUTS, with_deriv)

    def build_external(self, coord, atype, nloc, offsets, neighbors) -> dict:
        """The same from a caller's neighbour list (EnergyModel.build_external's inputs):
        tensors of the nloc local atoms, the derivative over all nall atoms."""
        nframes, nall = tf.shape(atype)[0], tf.shape(atype)[1]
        coord3 = tf.reshape(coord, [nframes, nall, 3])
        descriptor = self.descriptor.build_external(coord3, atype, nloc, offsets, neighbors)
        return self._outputs(descriptor, atype[:, :nloc], nall, names.EXT_TENSOR_OUTPUTS, True)

    def build_inference(self) -> dict:
        outputs = self.build(**self.placeholders(), with_deriv=True)
        self.build_external(
            v1.placeholder(tf.float64, [None, None], names.EXT_COORD),
            v1.placeholder(tf.int32, [None, None], names.EXT_ATYPE),
            v1.placeholder(tf.int32, [], names.EXT_NLOC),
            v1.placeholder(tf.int32, [None], names.EXT_OFFSETS),
            v1.placeholder(tf.int32, [None], names.EXT_NEIGHBORS),
        )
        return outputs

    def _outputs(self, descriptor: DescriptorOut, centre_type, nall, name, with_deriv) -> dict:
        nframes = tf.shape(centre_type)[0]
        atomic = self.fitting.build(descriptor.d, centre_type, rot_mat=descriptor.rot_mat)
        atomic = tf.reshape(atomic, [nframes, -1, self.width])
        tensor = tf.reduce_sum(atomic, axis=1)
        sel = tf.constant(np.isin(np.arange(len(self.type_map)), self.sel_type), tf.float64)
        outputs = {
            "atom_tensor": tf.reshape(atomic, [nframes, -1], name=name["atom_tensor"]),
            "tensor": tf.identity(tensor, name["tensor"]),
            "sel_mask": tf.gather(sel, centre_type),  # (nf, nloc) 1.0 for selected atoms
        }
        if with_deriv:
            # Each component as an "energy": prod_force gives -d T_c / d x over every env
            # matrix, prod_virial its virial.
            parts = [
                forces_and_virials(tensor[:, c], descriptor.envs, nall)[:2]
                for c in range(self.width)
            ]
            force = tf.stack([tf.reshape(f, [nframes, -1]) for f, _ in parts], axis=1)
            virial = tf.stack([v for _, v in parts], axis=1)
            outputs["tensor_force"] = tf.identity(force, name["tensor_force"])
            outputs["tensor_virial"] = tf.identity(virial, name["tensor_virial"])
        if "max_count" in name:
            counts, _ = neighbor_counts(descriptor.envs)
            outputs["max_count"] = tf.identity(counts, name["max_count"])
        if descriptor.table_overflow is not None:
            outputs["table_overflow"] = tf.identity(
                descriptor.table_overflow, name["table_overflow"]
            )
        return outputs


@MODELS.register
class DipoleModel(TensorModel):
    """Atomic dipoles of the selected types and the global dipole."""

    name = "dipole"
    doc = "atomic and global dipoles (fitting 'dipole')"
    label, width = "dipole", 3
    labels = TensorModel.make_labels("dipole", 3)


@MODELS.register
class PolarModel(TensorModel):
    """Atomic polarizabilities of the selected types and the global polarizability."""

    name = "polar"
    doc = "atomic and global polarizabilities (fitting 'polar')"
    label, width = "polarizability", 9
    labels = TensorModel.make_labels("polarizability", 9)
