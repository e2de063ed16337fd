"""The energy model: descriptor + energy fitting -> energy, atomic energy, force, virial and
atomic virial, in one static graph (forces through prod_force, not autodiff through the
neighbour search)."""

from __future__ import annotations

from deepkit.descriptor.base import DescriptorOut, make_descriptor
from deepkit.fit.base import make_fitting
from deepkit.model import names
from deepkit.model.base import Label, Model
from deepkit.model.derivatives import forces_and_virials, neighbor_counts
from deepkit.nn.layers import constant_variable
from deepkit.nn.streamed import inference_chunk, values_and_gradients
from deepkit.registry import MODELS
from deepkit.tfenv import tf, v1


@MODELS.register
class EnergyModel(Model):
    """Energies, forces and virials; built from the normalised `model` section of an input."""

    name = "ener"
    doc = "energy, atomic energies, forces, virial and atomic virials"
    labels = (
        Label("energy", per_atom=False, width=1, node=names.LABEL_ENERGY),
        Label("force", per_atom=True, width=3, node=names.LABEL_FORCE),
        Label("virial", per_atom=False, width=9, node=names.LABEL_VIRIAL),
        Label("atom_ener", per_atom=True, width=1, node=names.LABEL_ATOM_ENER),
    )
    default_loss = "ener"
    frozen_nodes = (*names.FROZEN_OUTPUTS, *names.FROZEN_ATTRS, *names.FROZEN_OPTIONAL)

    def __init__(self, model_params: dict):
        self.type_map = list(model_params["type_map"])
        ntypes = len(self.type_map)
        self.descriptor = make_descriptor(
            model_params["descriptor"],
            ntypes,
            model_params.get("type_embedding"),
            self.type_map,
        )
        self.fitting = make_fitting(
            model_params["fitting_net"], ntypes, self.descriptor.mixed_types
        )
        self.data_stat_nbatch = model_params["data_stat_nbatch"]
        self.data_stat_protect = model_params["data_stat_protect"]
        self.min_nbor_dist = -1.0  # closest pair in the training data; <= 0: unknown

    def compute_statistics(self, systems, frames) -> None:
        """Energy bias and env-mat normalisation from the training systems, over the
        frames `frames` picks (data/stat_frames.py: training's stat batches, or a count)."""
        self.descriptor.compute_input_stats(systems, self.type_map, frames, self.data_stat_protect)
        self.fitting.compute_statistics(systems, self.type_map, frames)

    def placeholders(self) -> dict:
        """The model's inputs (names.py); fparam / aparam only when the fitting uses them."""
        inputs = {
            "coord": v1.placeholder(tf.float64, [None, None], names.COORD),
            "atype": v1.placeholder(tf.int32, [None, None], names.ATYPE),
            "box": v1.placeholder(tf.float64, [None, 9], names.BOX),
        }
        if self.fitting.numb_fparam:
            inputs["fparam"] = v1.placeholder(
                tf.float64, [None, self.fitting.numb_fparam], names.FPARAM
            )
        if self.fitting.numb_aparam:
            inputs["aparam"] = v1.placeholder(tf.float64, [None, None], names.APARAM)
        return inputs

    def build(self, coord, atype, box, fparam=None, aparam=None) -> dict:
        """coord (nf, natoms*3), atype (nf, natoms), box (nf, 9), fparam (nf, numb_fparam),
        aparam (nf, natoms * numb_aparam) -> named outputs."""
        nframes, natoms = tf.shape(atype)[0], tf.shape(atype)[1]
        self._min_nbor_dist_variable()
        coord3 = tf.reshape(coord, [nframes, natoms, 3])
        descriptor = self.descriptor.build(coord3, atype, box)
        return self._outputs(descriptor, atype, natoms, fparam, aparam, names.OUTPUTS)

    def build_external(
        self, coord, atype, nloc, offsets, neighbors, fparam=None, aparam=None
    ) -> dict:
        """The same model from a caller's neighbour list with ghost atoms (local atoms first):
        coord (nf, nall*3), atype (nf, nall), nloc scalar, offsets (nloc + 1) and neighbors
        (nnz) as in ops.external_neighbor_list, aparam (nf, nloc * numb_aparam). Energies
        are those of the local atoms; forces and atomic virials cover all nall atoms."""
        nframes, nall = tf.shape(atype)[0], tf.shape(atype)[1]
        coord3 = tf.reshape(coord, [nframes, nall, 3])
        descriptor = self.descriptor.build_external(coord3, atype, nloc, offsets, neighbors)
        centre_type = atype[:, :nloc]
        return self._outputs(descriptor, centre_type, nall, fparam, aparam, names.EXT_OUTPUTS)

    def build_inference(self) -> dict:
        """Both entry points of a frozen model on their placeholders (names.py); returns the
        outputs of the first."""
        inputs = self.placeholders()
        outputs = self.build(**inputs)
        shared = {k: v for k, v in inputs.items() if k in ("fparam", "aparam")}
        self.build_external(
            v1.placeholder(tf.float64, [None, None], names.EXT_COORD),
            v1.placeholder(tf.int32, [None, None], names.EXT_ATYPE),
            v1.placeholder(tf.int32, [], names.EXT_NLOC),
            v1.placeholder(tf.int32, [None], names.EXT_OFFSETS),
            v1.placeholder(tf.int32, [None], names.EXT_NEIGHBORS),
            **shared,
        )
        return outputs

    def _min_nbor_dist_variable(self) -> None:
        with v1.variable_scope(names.MIN_NBOR_DIST.split("/")[0], reuse=v1.AUTO_REUSE):
            constant_variable(names.MIN_NBOR_DIST.split("/")[1], float(self.min_nbor_dist))

    def _streamed(self, descriptor: DescriptorOut, centre_type, fparam, aparam, chunk: int):
        """Atomic energies (nf * nloc,) and dE/d em of every env, a chunk of atoms at a time
        (deepkit.nn.streamed): each atom is a frame of one atom to the fitting, with its
        frame's fparam and its own aparam."""
        nframes, nloc = tf.shape(centre_type)[0], tf.shape(centre_type)[1]
        ems = [tf.reshape(env.em, [nframes * nloc, -1]) for env in descriptor.envs]
        nlists = [tf.reshape(env.nlist, [nframes * nloc, -1]) for env in descriptor.envs]
        extras = [tf.reshape(centre_type, [-1]), *nlists]
        if fparam is not None:
            per_atom = tf.tile(fparam[:, None, :], [1, nloc, 1])
            extras.append(tf.reshape(per_atom, [nframes * nloc, -1]))
        if aparam is not None:
            extras.append(tf.reshape(aparam, [nframes * nloc, -1]))

        def atom_energy(part_ems, part_extras):
            atype, *params = part_extras
            part_nlists, params = params[: len(nlists)], params[len(nlists) :]
            d = descriptor.per_atom(part_ems, part_nlists, atype)
            fp = params.pop(0) if fparam is not None else None
            ap = params.pop(0) if aparam is not None else None
            return self.fitting.build(d, atype[:, None], fp, ap)

        energy, grads = values_and_gradients(atom_energy, ems, extras, chunk)
        shapes = [tf.shape(env.em) for env in descriptor.envs]
        return energy, [tf.reshape(g, shape) for g, shape in zip(grads, shapes, strict=True)]

    def _outputs(
        self, descriptor: DescriptorOut, centre_type, nall, fparam, aparam, output_names
    ) -> dict:
        """Fitting, energy, and forces / virials over the descriptor's environment matrices."""
        nframes = tf.shape(centre_type)[0]
        chunk = inference_chunk()
        if chunk is not None and descriptor.per_atom is not None:
            atom_energy, net_derivs = self._streamed(descriptor, centre_type, fparam, aparam, chunk)
        else:
            atom_energy, net_derivs = (
                self.fitting.build(descriptor.d, centre_type, fparam, aparam),
                None,
            )
        atom_energy = tf.reshape(atom_energy, [nframes, -1])
        energy = tf.reduce_sum(atom_energy, axis=1)
        force, virial, atom_virial = forces_and_virials(energy, descriptor.envs, nall, net_derivs)
        name = output_names
        outputs = {
            "energy": tf.identity(energy, name["energy"]),
            "atom_energy": tf.identity(atom_energy, name["atom_energy"]),
            "force": tf.reshape(force, [nframes, -1], name=name["force"]),
            "virial": tf.identity(virial, name["virial"]),
            "atom_virial": tf.reshape(atom_virial, [nframes, -1], name=name["atom_virial"]),
        }
        if "max_count" in name:
            counts, _ = neighbor_counts(descriptor.envs)
            outputs["max_count"] = tf.identity(counts, name["max_count"])
        if descriptor.table_overflow is not None:
            outputs["table_overflow"] = tf.identity(
                descriptor.table_overflow, name["table_overflow"]
            )
        return outputs
