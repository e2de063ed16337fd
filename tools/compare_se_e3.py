"""se_e3 against DeePMD-kit's se_t: the same statistics and embedding weights in both, the
descriptor of a random periodic frame compared.

DeePMD-kit's side runs its numpy implementation (deepmd.dpmodel) in its own venv with random
weights (resnet_dt, exclude_types on) and hands everything over in an npz; deepkit loads
those weights into its se_e3 variables by name and evaluates the same frame.

    python tools/compare_se_e3.py --dp-python /tmp/deepmd-peer/bin/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SEL, RCUT, RCUT_SMTH, NEURON, EXCLUDE = [10, 14], 3.8, 1.2, [2, 4, 8], [[0, 1]]

DEEPMD_SIDE = """
import sys
import numpy as np
from deepmd.dpmodel.descriptor.se_t import DescrptSeT
from deepmd.dpmodel.utils.nlist import extend_input_and_build_neighbor_list

sel, rcut, rcut_smth, neuron, exclude = {args}
rng = np.random.default_rng(0)
d = DescrptSeT(rcut, rcut_smth, sel, neuron=neuron, resnet_dt=True, exclude_types=exclude)
nnei = sum(sel)
davg = np.zeros((2, nnei, 4))
davg[:, :, 0] = rng.uniform(0, 0.2, (2, 1))
dstd = np.repeat(rng.uniform(0.2, 0.5, (2, 1, 4)), nnei, axis=1)
d.davg, d.dstd = davg, dstd
weights = {{}}
for a, b in [(0, 0), (0, 1), (1, 1)]:
    for k, layer in enumerate(d.embeddings[(a, b)].layers):
        layer.w = rng.normal(0, 1, layer.w.shape)
        layer.b = rng.normal(0, 1, layer.b.shape)
        layer.idt = rng.normal(1, 0.1, layer.idt.shape)
        for name, value in (("matrix", layer.w), ("bias", layer.b), ("idt", layer.idt)):
            weights[f"filter_pair_{{a}}_{{b}}/{{name}}_{{k}}"] = value
box = np.eye(3) * 7.0 + rng.normal(0, 0.3, (3, 3))
coord = rng.uniform(0, 1, (16, 3)) @ box
atype = rng.permutation(16) % 2
ext, ext_type, _, nlist = extend_input_and_build_neighbor_list(
    coord.reshape(1, -1), atype[None], rcut, sel, box=box.reshape(1, 9)
)
out = d.call(ext.reshape(1, -1), ext_type, nlist)[0][0]
np.savez(sys.argv[1], coord=coord, box=box, atype=atype, davg=davg, dstd=dstd, out=out, **weights)
"""


def deepkit_side(arrays) -> np.ndarray:
    """deepkit's se_e3 with DeePMD-kit's statistics and weights, on the same frame."""
    from deepkit.config import normalize
    from deepkit.descriptor.base import make_descriptor
    from deepkit.tfenv import tf

    v1 = tf.compat.v1
    raw = {
        "model": {
            "type_map": ["O", "H"],
            "descriptor": {
                "type": "se_t",  # DeePMD-kit's alias
                "sel": SEL,
                "rcut": RCUT,
                "rcut_smth": RCUT_SMTH,
                "neuron": NEURON,
                "resnet_dt": True,
                "exclude_types": EXCLUDE,
            },
        },
        "training": {"training_data": {"systems": ["."]}, "numb_steps": 1},
    }
    descriptor = make_descriptor(normalize(raw)["model"]["descriptor"], 2)
    descriptor.avg, descriptor.std = arrays["davg"], arrays["dstd"]
    with tf.Graph().as_default(), v1.Session() as sess:
        out = descriptor.build(
            tf.constant(arrays["coord"][None]),
            tf.constant(arrays["atype"].astype(np.int32)[None]),
            tf.constant(arrays["box"].reshape(1, 9)),
        )
        sess.run(v1.global_variables_initializer())
        loaded = 0
        for var in v1.global_variables():
            if var.op.name in arrays.files:
                var.load(arrays[var.op.name].reshape(var.shape), sess)
                loaded += 1
        if loaded != 27:  # 3 nets x 3 layers x (matrix, bias, idt)
            sys.exit(f"loaded {loaded} of 27 weight arrays: the variable names differ")
        return sess.run(out.d)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dp-python", required=True, help="python of a venv with deepmd-kit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deepmd.npz"
        script = DEEPMD_SIDE.format(args=repr((SEL, RCUT, RCUT_SMTH, NEURON, EXCLUDE)))
        subprocess.run([args.dp_python, "-c", script, str(path)], check=True)
        arrays = np.load(path)
        got = deepkit_side(arrays)
        expected = arrays["out"]
    diff = float(np.abs(got - expected).max())
    print(f"se_e3 vs DeePMD-kit se_t: max |d| {np.abs(expected).max():.3g}, max |diff| {diff:.3g}")
    return 0 if diff < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
