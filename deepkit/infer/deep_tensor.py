"""DeepDipole and DeepPolar: atomic and global tensors from a frozen tensor model, with
DeePMD-kit's shapes (atoms in the caller's order, zeros for atoms outside sel_type)."""

from __future__ import annotations

import numpy as np

from deepkit.infer.deep_pot import FrozenModel


class DeepTensor(FrozenModel):
    """A frozen tensor model (dipole or polar). Attributes as FrozenModel, plus sel_type
    (the types that carry a tensor) and output_dim (3 or 9)."""

    model_types = ("dipole", "polar")

    def _bind(self, tensor) -> None:
        from deepkit.model import names

        super()._bind(tensor)
        self.sel_type = self.session.run(tensor(names.ATTR_SEL_TYPE)).tolist()
        self._outputs = {k: tensor(names.TENSOR_OUTPUTS[k]) for k in self._keys}
        self.output_dim = int(self._outputs["tensor"].shape[-1])

    _keys = ("atom_tensor", "tensor", "tensor_force", "tensor_virial")

    def get_sel_type(self) -> list[int]:
        return list(self.sel_type)

    def _run(self, coord, cell, atype, keys) -> tuple[dict, int, int]:
        from deepkit.ops import frame_message
        from deepkit.tfenv import tf

        coord, cell, atype, nframes, natoms = self._shapes(coord, cell, atype)
        step = self.frames_per_call or max(1, 200_000 // natoms)
        parts = {k: [] for k in keys}
        for start in range(0, nframes, step):
            chunk = slice(start, start + step)
            fetch = {k: self._outputs[k] for k in keys}
            if self._max_count is not None:
                fetch["max_count"] = self._max_count
            feed = {
                self._inputs["coord"]: coord[chunk],
                self._inputs["atype"]: atype[chunk],
                self._inputs["box"]: cell[chunk],
            }
            try:
                out = self.session.run(fetch, feed)
            except tf.errors.InvalidArgumentError as err:
                raise ValueError(frame_message(err, start)) from None
            for k in keys:
                parts[k].append(out[k])
            if "max_count" in out:
                self._warn_overflow(out["max_count"], start)
        return {k: np.concatenate(v) for k, v in parts.items()}, nframes, natoms

    def eval(self, coords, cells, atom_types, atomic: bool = True, **unused) -> np.ndarray:
        """The atomic tensors (nf, natoms, output_dim), zero outside sel_type, or with
        atomic=False the global tensor (nf, output_dim): DeePMD-kit's DeepTensor.eval.
        coords (nf, natoms*3) or (nf, natoms, 3); cells (nf, 9) or None (non-periodic);
        atom_types (natoms,), atoms in any order."""
        _refuse_params(unused)
        key = "atom_tensor" if atomic else "tensor"
        out, nframes, natoms = self._run(coords, cells, atom_types, [key])
        if atomic:
            return out[key].reshape(nframes, natoms, self.output_dim)
        return out[key].reshape(nframes, self.output_dim)

    def eval_full(self, coords, cells, atom_types, atomic: bool = False, **unused):
        """(tensor (nf, nout), force (nf, nout, natoms, 3), virial (nf, nout, 9)) and with
        atomic=True also atom_tensor (nf, natoms, nout): force is -d tensor / d coordinates
        per component, as DeePMD-kit's eval_full (no atomic virial)."""
        _refuse_params(unused)
        keys = ["tensor", "tensor_force", "tensor_virial"] + (["atom_tensor"] if atomic else [])
        out, nframes, natoms = self._run(coords, cells, atom_types, keys)
        nout = self.output_dim
        result = (
            out["tensor"].reshape(nframes, nout),
            out["tensor_force"].reshape(nframes, nout, natoms, 3),
            out["tensor_virial"].reshape(nframes, nout, 9),
        )
        if atomic:
            result += (out["atom_tensor"].reshape(nframes, natoms, nout),)
        return result

    def eval_deriv(self, coords, cells, atom_types) -> np.ndarray:
        """d tensor / d coordinates (nf, nout, natoms, 3): the global tensor's derivative (DPLR
        forces, IR / Raman from MD)."""
        return -self.eval_full(coords, cells, atom_types)[1]


def _refuse_params(unused: dict) -> None:
    given = [k for k, v in unused.items() if v is not None and v is not False]
    if given:
        raise ValueError(f"tensor models take no {', '.join(given)}")


class DeepDipole(DeepTensor):
    """Atomic and global dipoles of a frozen dipole model (DeePMD-kit's DeepDipole)."""

    model_types = ("dipole",)


class DeepPolar(DeepTensor):
    """Atomic and global polarizabilities (3 x 3 row-major, 9 columns) of a frozen polar
    model (DeePMD-kit's DeepPolar)."""

    model_types = ("polar",)
