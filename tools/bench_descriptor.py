"""Benchmark: neighbour list + se_e2_a env mat + prod_force + prod_virial, time per atom.

Water boxes are supercells of the first frame of ../shared/data/water/data_0 (192 atoms,
12.44 A): 1^3, 2^3, 4^3 and 8^3 copies give 192, 1,536, 12,288 and 98,304 atoms. The
DeePMD-kit water settings are used: rcut 6, rcut_smth 0.5, sel [46, 92]. Each thread count
runs in its own process (OpenMP reads OMP_NUM_THREADS once). TensorFlow's BFC allocator is
switched on (TF_CPU_ALLOCATOR_USE_BFC=true, as the deepkit CLI does): the default CPU
allocator returns large buffers to the system after every step, and the page faults of
refilling them grow the per-atom cost with system size. --default-allocator measures that.

    python tools/bench_descriptor.py                 # markdown table on stdout
    python tools/bench_descriptor.py --threads 1 --reps 5 --sizes 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WATER = (
    Path(os.environ.get("DEEPKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "water"
    / "data_0"
)
RCUT, RCUT_SMTH, SEL = 6.0, 0.5, [46, 92]


def water_supercell(reps: int):
    coord = np.load(WATER / "set.000" / "coord.npy")[0].reshape(-1, 3).astype(np.float64)
    box = np.load(WATER / "set.000" / "box.npy")[0].reshape(3, 3).astype(np.float64)
    atype = np.loadtxt(WATER / "type.raw", dtype=np.int32).reshape(-1)
    shifts = np.array([(a, b, c) for a in range(reps) for b in range(reps) for c in range(reps)])
    big = (coord[None] + (shifts @ box)[:, None]).reshape(-1, 3)
    return big, np.tile(atype, len(shifts)), box * reps


def best_time(sess, fetch, feed, reps: int) -> float:
    sess.run(fetch, feed)  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        sess.run(fetch, feed)
        times.append(time.perf_counter() - start)
    return min(times)


def descriptor_chain(ops, nlist, rij, atype, net_deriv):
    """env mat (avg 0, std 1) -> force and virial for a given dE/d em."""
    nnei, natoms = sum(SEL), net_deriv.shape[1]
    avg, std = np.zeros((2, nnei, 4)), np.ones((2, nnei, 4))
    em, em_deriv = ops.env_mat(rij, nlist, atype, avg, std, RCUT_SMTH, RCUT)
    force = ops.prod_force(net_deriv, em_deriv, nlist, natoms)
    virial, _ = ops.prod_virial(net_deriv, em_deriv, rij, nlist, natoms)
    return em, em_deriv, force, virial


def worker(sizes: list[int], threads: int, reps: int) -> list[dict]:
    from deepkit import ops
    from deepkit.tfenv import tf

    rows = []
    for reps_per_side in sizes:
        coord, atype, box = water_supercell(reps_per_side)
        natoms, nnei = len(coord), sum(SEL)
        graph = tf.Graph()
        with graph.as_default():
            coord_in = tf.compat.v1.placeholder(tf.float64, (1, natoms, 3))
            atype_in = tf.constant(atype[None])
            box_in = tf.constant(box.reshape(1, 9))
            net_deriv = tf.Variable(
                tf.random.stateless_normal((1, natoms, nnei, 4), (1, 2), dtype=tf.float64)
            )
            nlist, rij, _ = ops.neighbor_list(coord_in, atype_in, box_in, RCUT, SEL)
            _, _, force, virial = descriptor_chain(ops, nlist, rij, atype_in, net_deriv)
            # Each stage also alone, on inputs the previous stage left in variables.
            nlist_v, rij_v = tf.Variable(nlist), tf.Variable(rij)
            em_v, em_deriv_v, _, _ = descriptor_chain(ops, nlist_v, rij_v, atype_in, net_deriv)
            em_deriv_kept = tf.Variable(em_deriv_v)
            force_v = ops.prod_force(net_deriv, em_deriv_kept, nlist_v, natoms)
            virial_v, _ = ops.prod_virial(net_deriv, em_deriv_kept, rij_v, nlist_v, natoms)
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1
        )
        with tf.compat.v1.Session(graph=graph, config=config) as sess:
            feed = {coord_in: coord[None]}
            sess.run([net_deriv.initializer, nlist_v.initializer, rij_v.initializer], feed)
            sess.run(em_deriv_kept.initializer)
            n = reps if natoms < 50000 else max(2, reps // 3)
            timings = {
                "nlist": best_time(sess, nlist.op, feed, n),
                "env_mat": best_time(sess, em_v.op, None, n),
                "prod": best_time(sess, [force_v.op, virial_v.op], None, n),
                "total": best_time(sess, [force.op, virial.op], feed, n),
            }
        rows.append(
            {
                "natoms": natoms,
                "threads": threads,
                **{f"{k}_us_per_atom": 1e6 * t / natoms for k, t in timings.items()},
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8],
        help="supercell repetitions per side (1 -> 192 atoms, 8 -> 98,304)",
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=10, help="timed runs; the best is kept")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="keep TensorFlow's default CPU allocator instead of BFC",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not WATER.exists():
        sys.exit(f"water data not found at {WATER} (set DEEPKIT_SHARED_DATA)")
    if args.worker:
        print(json.dumps(worker(args.sizes, args.worker, args.reps)))
        return
    rows = []
    for threads in args.threads:
        env = dict(
            os.environ,
            OMP_NUM_THREADS=str(threads),
            TF_CPP_MIN_LOG_LEVEL="3",
            TF_CPU_ALLOCATOR_USE_BFC="false" if args.default_allocator else "true",
        )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(threads),
                "--reps",
                str(args.reps),
                "--sizes",
                *map(str, args.sizes),
            ],
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        rows += json.loads(out.stdout.strip().splitlines()[-1])
    print("| atoms | threads | nlist | env mat | prod force+virial | total, one graph (us/atom) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['natoms']:,} | {r['threads']} | {r['nlist_us_per_atom']:.2f} | "
            f"{r['env_mat_us_per_atom']:.2f} | {r['prod_us_per_atom']:.2f} | "
            f"{r['total_us_per_atom']:.2f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
