"""Where DeepPot.eval's time goes, stage by stage, against the floating-point floor.

Traces one evaluation of a frozen water model on copies**3 copies of the first frame of
../shared/data/water/data_3 (TensorFlow's step stats: every op's own time, summed) and sorts
the ops into stages by their names and types. The floor is the nets' floating-point work
at this machine's float64 GEMM rate, measured here on DkMatMul (the model's own product):
2 flops per multiply-add, once forward and once back (DeePMD-kit's forces need dE/dx, not
the weights' gradient), the embedding over the occupied slots of this frame.

    python tools/profile_stages.py --model water.pb --copies 2
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_infer import DATA

STAGES = [  # (stage, test on (node name, op type)), first match wins
    ("neighbour list, env mat", lambda name, op: op in ("DkNeighborList", "DkEnvMat")),
    ("forces, virials", lambda name, op: op.startswith("DkProd")),
    ("G^T R, D = T T<", lambda name, op: op.startswith(("DkSlotContract", "DkBatchMatMul"))),
    ("tables (compressed)", lambda name, op: op.startswith("DkTabulate")),
    ("embedding nets", lambda name, op: "filter_type" in name),
    ("fitting net", lambda name, op: "fitting_type" in name),
]


def water(copies: int):
    system = DATA / "water" / "data_3"
    coord = np.load(system / "set.000" / "coord.npy")[0].reshape(-1, 3)
    box = np.load(system / "set.000" / "box.npy")[0].reshape(3, 3)
    atype = np.loadtxt(system / "type.raw", dtype=int)
    shifts = np.array(
        [(a, b, c) for a in range(copies) for b in range(copies) for c in range(copies)]
    )
    coord = (coord[None] + (shifts @ box)[:, None]).reshape(1, -1)
    return coord, np.tile(atype, len(shifts)), (box * copies).reshape(1, 9)


def gemm_rate(threads: int) -> float:
    """float64 GFLOP/s of DkMatMul on (25,000 x 240) @ (240 x 240), best of 5."""
    from deepkit import ops
    from deepkit.tfenv import tf, v1

    with tf.Graph().as_default():
        a = v1.Variable(np.random.default_rng(0).normal(size=(25_000, 240)))
        b = v1.Variable(np.random.default_rng(1).normal(size=(240, 240)))
        with ops.cpu_products():
            product = ops.matmul(a, b)
        config = v1.ConfigProto(
            intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1
        )
        with v1.Session(config=config) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(product.op)
            best = np.inf
            for _ in range(5):
                start = time.perf_counter()
                sess.run(product.op)
                best = min(best, time.perf_counter() - start)
    return 2 * 25_000 * 240 * 240 / best / 1e9


def net_macs(descriptor: dict, fitting: dict) -> tuple[int, int]:
    """Multiply-adds of one pass: the embedding net per slot (input 1) and the fitting net
    per atom (input M1 x M2), se_e2_a's layout."""
    widths = [1, *descriptor["neuron"]]
    embedding = sum(a * b for a, b in itertools.pairwise(widths))
    widths = [descriptor["neuron"][-1] * descriptor["axis_neuron"], *fitting["neuron"], 1]
    return embedding, sum(a * b for a, b in itertools.pairwise(widths))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--copies", type=int, default=2, help="copies of the frame per axis")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

    from deepkit import DeepPot
    from deepkit.config import normalize
    from deepkit.descriptor import env_mat
    from deepkit.tfenv import v1

    coord, atype, box = water(args.copies)
    dp = DeepPot(args.model, intra_threads=args.threads, inter_threads=1)
    dp.eval(coord, box, atype)
    meta = v1.RunMetadata()
    plain_run = dp.session.run
    options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
    dp.session.run = lambda fetches, feed_dict=None: plain_run(
        fetches, feed_dict, options=options, run_metadata=meta
    )
    start = time.perf_counter()
    dp.eval(coord, box, atype)
    wall = time.perf_counter() - start
    dp.session.run = plain_run

    times = collections.Counter()
    for device in meta.step_stats.dev_stats:
        for node in device.node_stats:
            label = node.timeline_label or ""
            op = label.split("(")[0].split("=")[-1].strip() or node.node_name
            stage = next((s for s, test in STAGES if test(node.node_name, op)), "other (plumbing)")
            times[stage] += (node.op_end_rel_micros - node.op_start_rel_micros) / 1e6
    natoms, total = len(atype), sum(times.values())

    # The floor: the embedding over the occupied slots, the fitting per atom, both ways;
    # a compressed model's tables replace the embedding net.
    model = normalize(dp.train_input)["model"]
    descriptor = model["descriptor"]
    _, _, _, nlist = env_mat(
        coord.reshape(-1, 3),
        atype,
        box.reshape(3, 3),
        descriptor["rcut"],
        descriptor["rcut_smth"],
        dp.sel,
    )
    occupied = (nlist >= 0).sum() / natoms
    embedding, fitting = net_macs(descriptor, model["fitting_net"])
    flops = 2 * 2 * (fitting + (0 if dp.compressed else embedding * occupied))
    rate = gemm_rate(args.threads)
    floor = flops / (rate * 1e9)

    print(
        f"{args.model}: {natoms} atoms, {args.threads} threads, wall {wall / natoms * 1e6:.0f} us/atom"
    )
    print(
        f"occupied slots {occupied:.1f} per atom; embedding {embedding:,} MAC/slot, "
        f"fitting {fitting:,} MAC/atom{' (compressed: tables, no embedding net)' if dp.compressed else ''}"
    )
    print(
        f"floor: {flops / 1e6:.2f} MFLOP/atom at {rate:.0f} GFLOP/s (DkMatMul) = {floor * 1e6:.0f} us/atom"
    )
    print()
    print("| stage | us/atom | share |")
    print("|---|---:|---:|")
    for stage, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {seconds / natoms * 1e6:.1f} | {seconds / total:.0%} |")
    print(f"| all ops (sum of op times) | {total / natoms * 1e6:.1f} | |")


if __name__ == "__main__":
    main()
