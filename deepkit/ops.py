"""deepkit's custom TensorFlow ops: typed wrappers and their registered gradients.

The op library (deepkit/_ops*.so, built by setup.py from op_src/) is loaded on first use.
Every op is double precision and accepts atoms in any type order. Shapes below use
nf = frames, nloc = centre atoms, nall = nloc + ghosts (nall == nloc without an external
neighbour list), nnei = sum(sel), ncomp = 4 (se_e2_a) or 1 (se_e2_r).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

from deepkit.tfenv import tf

__all__ = [
    "cpu_has_avx2_fma",
    "cpu_products",
    "cpu_products_preferred",
    "env_mat",
    "error_text",
    "external_neighbor_list",
    "frame_message",
    "matmul",
    "neighbor_list",
    "op_library",
    "prod_force",
    "prod_virial",
    "tabulate_fusion",
]


@functools.cache
def op_library():
    """The loaded op module (tf.load_op_library), loaded once, its gradients registered."""
    here = Path(__file__).resolve().parent
    candidates = sorted(here.glob("_ops*.so"))
    if not candidates:
        raise ImportError(
            f"deepkit's op library is missing from {here}: install deepkit with pip "
            "(`pip install --no-build-isolation -e .`), which compiles op_src/"
        )
    try:
        library = tf.load_op_library(str(candidates[0]))
    except tf.errors.NotFoundError as err:
        raise ImportError(
            f"deepkit's op library {candidates[0].name} does not load with TensorFlow "
            f"{tf.__version__} (was it built against another version?): {err.message}. "
            "Rebuild it: `pip install --force-reinstall --no-build-isolation .`"
        ) from None
    _register_gradients()
    return library


def error_text(err: tf.errors.OpError) -> str:
    """The one-line message a deepkit op gave, without TensorFlow's node trace."""
    lines = re.findall(r"^(Dk\w+: .*)$", err.message, flags=re.MULTILINE)
    return lines[-1] if lines else err.message.strip().splitlines()[-1]


def frame_message(err: tf.errors.OpError, first_frame: int = 0) -> str:
    """error_text without the op's name, its "frame N" counted from first_frame (callers
    that run frames in chunks)."""
    text = re.sub(r"^Dk\w+: ", "", error_text(err))
    return re.sub(r"\bframe (\d+)", lambda m: f"frame {int(m.group(1)) + first_frame}", text)


def neighbor_list(coord, atype, box, rcut: float, sel: Sequence[int], mixed_types: bool = False):
    """Neighbour list (cell list; all periodic images within rcut), nearest first.

    coord (nf, natoms, 3) float64 Angstrom; atype (nf, natoms) int32; box (nf, 9) float64
    with cell vectors as rows, an all-zero row meaning a non-periodic frame.
    Returns nlist (nf, natoms, nnei) int32 with -1 in empty slots, rij (nf, natoms, nnei, 3)
    = r_j - r_i (0 in empty slots), and max_count (nf, len(sel)).

    Type-blocked (the default): slots [sum(sel[:t]), sum(sel[:t+1])) hold the type-t
    neighbours and max_count[:, t] is the most of them any atom has within rcut (larger
    than sel[t] means the farthest were dropped). With mixed_types (se_atten, which embeds
    the neighbour's type itself) sel has one entry, nnei = sel[0] slots hold the nearest
    neighbours of any type, and max_count (nf, 1) is the largest neighbour count of any
    centre; types need only be >= 0. Ties go by atom index, then periodic image.
    """
    return op_library().dk_neighbor_list(
        coord, atype, box, tf.constant(rcut, tf.float64), sel=list(sel), mixed_types=mixed_types
    )


def external_neighbor_list(
    coord, atype, nloc, offsets, neighbors, rcut: float, sel, mixed_types: bool = False
):
    """Neighbour rows of the first nloc atoms from a caller's list (local atoms, then ghosts).

    coord (nf, nall, 3) float64 Angstrom; atype (nf, nall) int32; nloc int32 scalar;
    offsets (nloc + 1) and neighbors (nnz) int32: the candidates of local atom i are
    neighbors[offsets[i]:offsets[i+1]], shared by all frames. Returns nlist (nf, nloc, nnei),
    rij (nf, nloc, nnei, 3) and max_count (nf, len(sel)) as neighbor_list does, type-blocked
    or, with mixed_types, one block of sel[0] slots for the nearest neighbours of any type.
    """
    return op_library().dk_external_neighbor_list(
        coord,
        atype,
        nloc,
        offsets,
        neighbors,
        tf.constant(rcut, tf.float64),
        sel=list(sel),
        mixed_types=mixed_types,
    )


def env_mat(rij, nlist, atype, avg, std, rcut_smth: float, rcut: float, kind: str = "a"):
    """Normalised environment matrix em = (R - avg[type_i]) / std[type_i] and d em / d r_ij.

    avg, std (ntypes, nnei, ncomp). Returns em (nf, nloc, nnei, ncomp) and em_deriv
    (nf, nloc, nnei, ncomp, 3). The gradient with respect to rij is registered.
    """
    return op_library().dk_env_mat(
        rij,
        nlist,
        atype,
        avg,
        std,
        tf.constant(rcut_smth, tf.float64),
        tf.constant(rcut, tf.float64),
        kind=kind,
    )


def prod_force(net_deriv, em_deriv, nlist, nall):
    """Forces (nf, nall, 3) from net_deriv = dE/d em (nf, nloc, nnei, ncomp)."""
    return op_library().dk_prod_force(net_deriv, em_deriv, nlist, nall)


def prod_virial(net_deriv, em_deriv, rij, nlist, nall):
    """Virial (nf, 9) and atomic virial (nf, nall, 9), W[a,b] = -sum_ij g_ij[a] rij[b]."""
    return op_library().dk_prod_virial(net_deriv, em_deriv, rij, nlist, nall)


def tabulate_fusion(table, info, x, rows):
    """Compressed embedding net contracted with the environment rows (model compression).

    table (intervals, 6, width) and info (7,) from deepkit.nn.tabulate; x (n, nnei) the
    net's input; rows (n, nnei, ncomp). Returns (n, width, ncomp) = sum_j G(x_j) (x) rows_j,
    G the tabulated net, never stored. Differentiable in x and rows, and its gradient once
    more in the incoming gradient (fine-tuning the fitting net on forces)."""
    return op_library().dk_tabulate_fusion(table, info, x, rows)


def tabulate_fusion_blocks(table, info, x, rows, block, nblocks: int):
    """tabulate_fusion summed per block of slots: block (n, nnei) int32 in [0, nblocks)
    names each slot's block; returns (n, width, nblocks * ncomp), block b's sum in
    components b * ncomp .. b * ncomp + ncomp - 1. One table read per slot however many
    blocks (se_atten's strip mode: one per neighbour type). CPU kernels only: on a GPU
    machine TensorFlow runs it on the host."""
    return op_library().dk_tabulate_fusion_blocks(table, info, x, rows, block, nblocks=nblocks)


def slot_contract(g, r, count):
    """G^T R per atom over its occupied slots, stored one after the other: g (K, m) and
    r (K, c) their rows, atom by atom, count (n,) int32 each atom's number (adding up to K).
    Returns (n, m, c). Differentiable in g and r to any order. CPU kernels only."""
    return op_library().dk_slot_contract(g, r, count)


# Whether ops.matmul builds DkMatMul / DkBatchMatMul: set by cpu_products, per thread.
_CPU_PRODUCTS = contextvars.ContextVar("deepkit_cpu_products", default=False)


@functools.cache
def cpu_has_avx2_fma() -> bool:
    """Whether this CPU has AVX2 and FMA, which DkMatMul / DkBatchMatMul are compiled for
    (/proc/cpuinfo, read once; False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


@functools.cache
def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU in this process (asked once)."""
    return bool(tf.config.list_physical_devices("GPU"))


def cpu_products_preferred() -> bool:
    """Whether float64 products should run as DkMatMul / DkBatchMatMul in this process: the
    CPU has AVX2/FMA, TensorFlow sees no GPU (cuBLAS does the products there) and the
    environment does not say DEEPKIT_CPU_PRODUCTS=0. cpu_products and DeepPot ask this."""
    if os.environ.get("DEEPKIT_CPU_PRODUCTS", "").strip() == "0":
        return False
    return cpu_has_avx2_fma() and not gpu_present()


@contextlib.contextmanager
def cpu_products(enabled: bool = True):
    """Within the block, `matmul` builds float64 products as DkMatMul / DkBatchMatMul
    (Eigen built for AVX2/FMA) where cpu_products_preferred() says so; tf.matmul otherwise,
    and always outside such a block.

    A graph-build-time choice for graphs that run where they are built (training): those ops
    have no GPU kernel, so graphs that are saved to run elsewhere (freeze, compress) are built
    without it, and DeepPot and the C API choose the products when they load them."""
    token = _CPU_PRODUCTS.set(bool(enabled) and cpu_products_preferred())
    try:
        yield
    finally:
        _CPU_PRODUCTS.reset(token)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """op(a) @ op(b) for matrices (2-D) or batches of them (3-D, same batch size).

    TensorFlow's MatMul / BatchMatMulV2 (tf.matmul), which run on any device; float64
    inside `cpu_products` on an AVX2/FMA CPU without a GPU: DkMatMul / DkBatchMatMul,
    Eigen's products built for AVX2/FMA (the TensorFlow wheel builds its float64 MatMul for
    SSE only). Differentiable to any order."""
    if a.dtype == tf.float64 and _CPU_PRODUCTS.get():
        return _dk_matmul(a, b, transpose_a, transpose_b)
    return tf.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def _dk_matmul(a, b, transpose_a: bool, transpose_b: bool):
    kernel = op_library().dk_batch_mat_mul if a.shape.rank == 3 else op_library().dk_mat_mul
    return kernel(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def _matmul_grad(op, grad):
    a, b = op.inputs
    ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    # The products of a Dk product's gradient are Dk products too, whatever the context the
    # gradient is built in: the graph's author chose them with the forward product.
    if not ta and not tb:
        return _dk_matmul(grad, b, False, True), _dk_matmul(a, grad, True, False)
    if ta and not tb:
        return _dk_matmul(b, grad, False, True), _dk_matmul(a, grad, False, False)
    if not ta and tb:
        return _dk_matmul(grad, b, False, False), _dk_matmul(grad, a, True, False)
    return _dk_matmul(b, grad, True, True), _dk_matmul(grad, a, True, True)


def _env_mat_grad(op, grad_em, grad_em_deriv):
    # dL/drij = sum_c dL/dem[c] * dem[c]/drij. Second derivatives through em_deriv are not
    # provided: forces use em_deriv only through prod_force/prod_virial, whose gradients
    # flow to net_deriv.
    em_deriv = op.outputs[1]
    grad_rij = tf.reduce_sum(tf.expand_dims(grad_em, -1) * em_deriv, axis=-2)
    return [grad_rij, None, None, None, None, None, None]


def _tabulate_fusion_grad(op, dy):
    table, info, x, rows = op.inputs
    dx, drows = op_library().dk_tabulate_fusion_grad(table, info, x, rows, dy)
    return [None, None, dx, drows]


def _tabulate_fusion_grad_grad(op, ddx, ddrows):
    # Only the path to dy (which carries the fitting net's parameters) is provided: second
    # derivatives in the coordinates are not needed to train on forces.
    table, info, x, rows, _ = op.inputs
    ddx = tf.zeros_like(x) if ddx is None else ddx
    ddrows = tf.zeros_like(rows) if ddrows is None else ddrows
    ddy = op_library().dk_tabulate_fusion_grad_grad(table, info, x, rows, ddx, ddrows)
    return [None, None, None, None, ddy]


def _tabulate_fusion_blocks_grad(op, dy):
    table, info, x, rows, block = op.inputs
    nblocks = op.get_attr("nblocks")
    grad = op_library().dk_tabulate_fusion_blocks_grad
    dx, drows = grad(table, info, x, rows, block, dy, nblocks=nblocks)
    return [None, None, dx, drows, None]


def _tabulate_fusion_blocks_grad_grad(op, ddx, ddrows):
    # As _tabulate_fusion_grad_grad: the path to dy only.
    table, info, x, rows, block, _ = op.inputs
    ddx = tf.zeros_like(x) if ddx is None else ddx
    ddrows = tf.zeros_like(rows) if ddrows is None else ddrows
    grad_grad = op_library().dk_tabulate_fusion_blocks_grad_grad
    ddy = grad_grad(table, info, x, rows, block, ddx, ddrows, nblocks=op.get_attr("nblocks"))
    return [None, None, None, None, None, ddy]


# The three slot-contract ops are bilinear, each one's derivatives the others'.
def _slot_contract_grad(op, dout):
    g, r, count = op.inputs
    lib = op_library()
    return [
        lib.dk_slot_contract_grad_g(dout, r, count),
        lib.dk_slot_contract_grad_r(dout, g, count),
        None,
    ]


def _slot_contract_grad_g_grad(op, dgrad):  # grad_g[p] = dout[i] r[p]^T
    dout, r, count = op.inputs
    lib = op_library()
    return [
        lib.dk_slot_contract(dgrad, r, count),
        lib.dk_slot_contract_grad_r(dout, dgrad, count),
        None,
    ]


def _slot_contract_grad_r_grad(op, dgrad):  # grad_r[p] = dout[i]^T g[p]
    dout, g, count = op.inputs
    lib = op_library()
    return [
        lib.dk_slot_contract(g, dgrad, count),
        lib.dk_slot_contract_grad_g(dout, dgrad, count),
        None,
    ]


def _prod_force_grad(op, grad_force):
    _, em_deriv, nlist, _ = op.inputs
    grad_net = op_library().dk_prod_force_grad(grad_force, em_deriv, nlist)
    return [grad_net, None, None, None]


def _prod_virial_grad(op, grad_virial, grad_atom_virial):
    _, em_deriv, rij, nlist, _ = op.inputs
    if grad_virial is None:
        grad_virial = tf.zeros_like(op.outputs[0])
    if grad_atom_virial is None:
        grad_atom_virial = tf.zeros_like(op.outputs[1])
    grad_net = op_library().dk_prod_virial_grad(grad_virial, grad_atom_virial, em_deriv, rij, nlist)
    return [grad_net, None, None, None, None]


# Op name -> its gradient; ops without one. Registered when the library loads, so that
# importing this module imports no TensorFlow.
_GRADIENTS = {
    "DkMatMul": _matmul_grad,
    "DkBatchMatMul": _matmul_grad,
    "DkEnvMat": _env_mat_grad,
    "DkTabulateFusion": _tabulate_fusion_grad,
    "DkTabulateFusionGrad": _tabulate_fusion_grad_grad,
    "DkTabulateFusionBlocks": _tabulate_fusion_blocks_grad,
    "DkTabulateFusionBlocksGrad": _tabulate_fusion_blocks_grad_grad,
    "DkProdForce": _prod_force_grad,
    "DkProdVirial": _prod_virial_grad,
    "DkSlotContract": _slot_contract_grad,
    "DkSlotContractGradG": _slot_contract_grad_g_grad,
    "DkSlotContractGradR": _slot_contract_grad_r_grad,
}
_NO_GRADIENT = (
    "DkNeighborList",
    "DkProdForceGrad",
    "DkProdVirialGrad",
    "DkTabulateFusionGradGrad",
    "DkTabulateFusionBlocksGradGrad",
)


def _register_gradients() -> None:
    for name, gradient in _GRADIENTS.items():
        tf.RegisterGradient(name)(gradient)
    for name in _NO_GRADIENT:
        tf.no_gradient(name)
