"""DeepPot: energies, forces and virials from a frozen model, DeePMD-kit's interface."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from deepkit.compress import TableOverflowWarning
from deepkit.descriptor.env_mat import NeighborOverflowWarning
from deepkit.errors import InputError

# The class that evaluates each model type, for the message that refuses the others.
EVALUATORS = {"ener": "DeepPot", "dipole": "DeepDipole", "polar": "DeepPolar"}


class FrozenModel:
    """A frozen deepkit model (.pb) of any type, loaded once into its own graph and session
    (`deepkit show` reads any model through it; DeepPot, DeepDipole and DeepPolar evaluate).

    Attributes: type_map, ntypes, rcut, descriptor, sel, compressed, version, train_input,
    model_type ("ener", "dipole", "polar").
    Threads: TensorFlow's pools follow `intra_threads` / `inter_threads` (0: TensorFlow's
    choice); deepkit's own kernels follow OMP_NUM_THREADS.
    """

    model_types: tuple[str, ...] | None = None  # those this class evaluates; None: any

    def __init__(
        self,
        model: str | Path,
        intra_threads: int = 0,
        inter_threads: int = 0,
        frames_per_call: int | None = None,
    ):
        from deepkit import ops
        from deepkit.model import names
        from deepkit.model.frozen import (
            check_finite,
            check_metadata,
            graph_constants,
            read_graph_def,
            specialise_for_cpu,
        )
        from deepkit.tfenv import tf

        ops.op_library()  # the graph uses deepkit's ops
        path = Path(model)
        graph_def = read_graph_def(path)
        check_finite(graph_constants(graph_def, path), path)
        # AVX2 products where this CPU has them; the model as frozen if they do not import.
        candidates = [specialise_for_cpu(graph_def)] if ops.cpu_products_preferred() else []
        for candidate in (*candidates, graph_def):
            self.graph = tf.Graph()
            with self.graph.as_default():
                try:
                    tf.graph_util.import_graph_def(candidate, name="")
                    break
                except ValueError as err:
                    if candidate is graph_def:
                        raise InputError(f"{path}: not a deepkit model ({err})") from None
        tensor = lambda name: self.graph.get_tensor_by_name(f"{name}:0")
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=intra_threads, inter_op_parallelism_threads=inter_threads
        )
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        try:
            attrs = self.session.run({name: tensor(name) for name in names.FROZEN_ATTRS})
        except KeyError as err:
            raise InputError(f"{path}: not a deepkit model (missing {err})") from None
        check_metadata(attrs, path)  # type, shape and range first: a crafted file gives one line
        self.type_map = attrs[names.ATTR_TYPE_MAP].decode().split()
        self.ntypes = len(self.type_map)
        self.rcut = float(attrs[names.ATTR_RCUT])
        self.descriptor = attrs[names.ATTR_DESCRIPTOR].decode()
        self.sel = attrs[names.ATTR_SEL].tolist()
        self.compressed = bool(attrs[names.ATTR_COMPRESSED])
        self.version = attrs[names.ATTR_VERSION].decode()
        self.train_input = json.loads(attrs[names.ATTR_TRAIN_INPUT].decode())
        self.model_type = self._model_type(tensor, path)
        if self.model_types is not None and self.model_type not in self.model_types:
            use = EVALUATORS.get(self.model_type)
            raise InputError(
                f"{path}: a {self.model_type!r} model: {type(self).__name__} evaluates "
                f"{' / '.join(self.model_types)} models" + (f"; use deepkit.{use}" if use else "")
            )
        self.frames_per_call = frames_per_call
        try:  # the most neighbours of each type any atom has (not in deepkit 0.3 models)
            self._max_count = tensor(names.MAX_NEIGHBORS)
        except KeyError:
            self._max_count = None
        self._bind(tensor)

    def _bind(self, tensor) -> None:
        """Find the model type's input and output tensors (tensor(name) -> Tensor)."""
        from deepkit.model import names

        self._inputs = {
            k: tensor(n)
            for k, n in (("coord", names.COORD), ("atype", names.ATYPE), ("box", names.BOX))
        }

    def _model_type(self, tensor, path) -> str:
        from deepkit.model import names
        from deepkit.model.frozen import check_metadata

        try:
            value = self.session.run(tensor(names.ATTR_MODEL_TYPE))
        except KeyError:  # frozen by deepkit 0.3.0: always an energy model
            return "ener"
        check_metadata({names.ATTR_MODEL_TYPE: value}, path)
        return value.decode()

    def _shapes(self, coord, cell, atype):
        """coord (nf, natoms * 3), cell (nf, 9) and atype (nf, natoms) int32, checked; atype
        may be given as (natoms,), the same for every frame, or (nf, natoms), the types of
        each frame (DeePMD-kit's mixed-type eval)."""
        atype = np.asarray(atype)
        if atype.ndim not in (1, 2):
            raise ValueError(f"atype must be (natoms,) or (nframes, natoms), got {atype.shape}")
        if atype.dtype == bool or not np.issubdtype(atype.dtype, np.integer):
            raise ValueError(f"atype must hold integer type indices, got {atype.dtype}")
        coord, cell = _real_array("coord", coord), _real_array("cell", cell)
        natoms = atype.shape[-1]
        if atype.size == 0:
            raise ValueError("no atoms")
        if atype.min() < 0 or atype.max() >= self.ntypes:
            raise ValueError(
                f"atype has index {atype.max() if atype.min() >= 0 else atype.min()}, "
                f"expected 0..{self.ntypes - 1} (type_map {self.type_map})"
            )
        coord = np.asarray(coord, dtype=np.float64).reshape(-1, natoms * 3)
        nframes = len(coord)
        if atype.ndim == 2 and len(atype) != nframes:
            raise ValueError(f"atype has types of {len(atype)} frames for {nframes} frames")
        if cell is None:
            cell = np.zeros((nframes, 9))
        cell = np.asarray(cell, dtype=np.float64).reshape(-1, 9)
        if len(cell) != nframes:
            raise ValueError(f"{len(cell)} cells for {nframes} frames")
        if not np.all(np.isfinite(coord)):
            raise ValueError("coordinates contain NaN or inf")
        atype = np.broadcast_to(atype.astype(np.int32), (nframes, natoms))
        return coord, cell, atype, nframes, natoms

    def _warn_overflow(self, max_count: np.ndarray, first_frame: int) -> None:
        """NeighborOverflowWarning when an atom has more neighbours of a type than sel, as
        training warns: the farthest are dropped, so energies and forces are approximate."""
        sel = np.asarray(self.sel)
        if max_count.ndim != 2 or max_count.shape[1] != sel.size:
            return
        over = np.any(max_count > sel, axis=1)
        if over.any():
            frame = first_frame + int(np.argmax(over))
            warnings.warn(
                f"frame {frame}: up to {max_count[over].max(axis=0).tolist()} neighbours per "
                f"type within rcut, more than sel {sel.tolist()}: the farthest are dropped",
                NeighborOverflowWarning,
                stacklevel=3,
            )

    def get_type_map(self) -> list[str]:
        return list(self.type_map)

    def get_rcut(self) -> float:
        return self.rcut

    def get_ntypes(self) -> int:
        return self.ntypes


class DeepPot(FrozenModel):
    """Energies, forces and virials of a frozen energy model (DeePMD-kit's DeepPot)."""

    model_types = ("ener",)

    def _bind(self, tensor) -> None:
        from deepkit.model import names

        super()._bind(tensor)
        keys = ("energy", "force", "virial", "atom_energy", "atom_virial")
        self._outputs = {k: tensor(names.OUTPUTS[k]) for k in keys}
        self._external = self._external_tensors(tensor)
        # Compressed models count the net inputs beyond their table, per frame.
        self._overflow = tensor(names.TABLE_OVERFLOW) if self.compressed else None

    def eval(self, coord, cell, atype, atomic: bool = False):
        """e (nf, 1), f (nf, natoms, 3), v (nf, 9) [, ae (nf, natoms, 1), av (nf, natoms, 9)].

        coord (nf, natoms*3) or (nf, natoms, 3), Angstrom; cell (nf, 9) / (nf, 3, 3) or None
        (non-periodic); atype (natoms,) indices into type_map, atoms in any order, or
        (nf, natoms), the types of each frame."""
        from deepkit.ops import frame_message
        from deepkit.tfenv import tf

        coord, cell, atype, nframes, natoms = self._shapes(coord, cell, atype)
        step = self.frames_per_call or max(1, 200_000 // natoms)  # bounds the memory per call
        keys = ["energy", "force", "virial"] + (["atom_energy", "atom_virial"] if atomic else [])
        parts = {k: [] for k in keys}
        for start in range(0, nframes, step):
            chunk = slice(start, start + step)
            fetch = {k: self._outputs[k] for k in keys}
            if self._overflow is not None:
                fetch["overflow"] = self._overflow
            if self._max_count is not None:
                fetch["max_count"] = self._max_count
            feed = {
                self._inputs["coord"]: coord[chunk],
                self._inputs["atype"]: atype[chunk],
                self._inputs["box"]: cell[chunk],
            }
            try:
                out = self.session.run(fetch, feed)
            except tf.errors.InvalidArgumentError as err:  # overlapping atoms, a bad box
                raise ValueError(frame_message(err, start)) from None
            for k in keys:
                parts[k].append(out[k])
            if "max_count" in out:
                self._warn_overflow(out["max_count"], start)
            if self._overflow is not None and out["overflow"].any():
                warnings.warn(
                    f"{int(out['overflow'].sum())} environment-matrix inputs lie beyond the "
                    "compressed model's table (atoms closer than its training data's closest "
                    "pair); the table's end value is used there",
                    TableOverflowWarning,
                    stacklevel=2,
                )
        result = {k: np.concatenate(v) for k, v in parts.items()}
        e = result["energy"].reshape(nframes, 1)
        f = result["force"].reshape(nframes, natoms, 3)
        v = result["virial"].reshape(nframes, 9)
        if not atomic:
            return e, f, v
        return (
            e,
            f,
            v,
            result["atom_energy"].reshape(nframes, natoms, 1),
            result["atom_virial"].reshape(nframes, natoms, 9),
        )

    def _external_tensors(self, tensor) -> dict | None:
        from deepkit.model import names

        nodes = {**names.EXT_INPUTS, **names.EXT_OUTPUTS}
        nodes.pop("table_overflow")
        try:
            return {key: tensor(name) for key, name in nodes.items()}
        except KeyError:
            return None  # frozen by deepkit < 0.3

    def eval_external(self, coord, atype, nloc: int, offsets, neighbors, atomic: bool = False):
        """One frame from a caller's neighbour list with ghost atoms (deepkit.infer.external):
        coord (nall, 3), atype (nall,), the first nloc atoms local; the candidates of local
        atom i are neighbors[offsets[i]:offsets[i+1]] (any order, a skin beyond rcut is
        fine). Returns e (local atoms' energy), f (nall, 3), v (9,) [, ae (nloc,),
        av (nall, 9)]: forces on ghosts are the caller's to add to their owners."""
        if self._external is None:
            raise InputError(
                f"this model (deepkit {self.version}) has no external-neighbour-list path; "
                "freeze or compress it again with deepkit >= 0.3"
            )
        from deepkit.ops import error_text
        from deepkit.tfenv import tf

        coord, _, atype, nframes, nall = self._shapes(coord, None, atype)
        if nframes != 1:
            raise ValueError(f"eval_external takes one frame, got {nframes}")
        ext = self._external
        keys = ["energy", "force", "virial"] + (["atom_energy", "atom_virial"] if atomic else [])
        feed = {
            ext["coord"]: coord,
            ext["atype"]: atype,
            ext["nloc"]: int(nloc),
            ext["offsets"]: np.asarray(offsets, np.int32),
            ext["neighbors"]: np.asarray(neighbors, np.int32),
        }
        try:
            out = self.session.run([ext[k] for k in keys], feed)
        except tf.errors.InvalidArgumentError as err:
            raise ValueError(error_text(err)) from None
        shapes = {
            "energy": (),
            "force": (nall, 3),
            "virial": (9,),
            "atom_energy": (-1,),
            "atom_virial": (nall, 9),
        }
        return tuple(np.reshape(v, shapes[k]) for k, v in zip(keys, out, strict=True))


def _real_array(name: str, values):
    """values as an array of real numbers (None stays None); complex, bool, text refused."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold real numbers, got {array.dtype}")
    return array
