"""Frozen models that run anywhere: freeze and compress write TensorFlow's products and
only ops with a GPU kernel (or a reason to stay on the host); DeepPot and the C API turn the
float64 products into deepkit's AVX2/FMA ones when they load a model on a CPU that has
them, with the same results."""

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from models import frozen_alcu_model
from toolchain import CXX

from deepkit import ops
from deepkit.cli import main
from deepkit.infer import DeepPot
from deepkit.model.frozen import read_graph_def, specialise_for_cpu

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PRODUCTS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
DEEPKIT_PRODUCTS = {"DkMatMul", "DkBatchMatMul"}
TRANSPOSES = ("transpose_a", "transpose_b")
# Deepkit ops a frozen model may hold without a GPU kernel, and why.
HOST_OPS = {
    "DkExternalNeighborList": "the caller's neighbour list lives on the host",
    # se_atten compressed on a CPU (one table read per slot, summed per neighbour type);
    # compressed where TensorFlow sees a GPU, the model holds the GPU's form instead.
    "DkTabulateFusionBlocks": "CPU kernels only; TensorFlow runs them on the host",
    "DkTabulateFusionBlocksGrad": "CPU kernels only; TensorFlow runs them on the host",
    # se_e2_a / se_e2_r frozen on a CPU (G^T R over the occupied slots); frozen where
    # TensorFlow sees a GPU, the model puts G back in every slot and multiplies instead.
    "DkSlotContract": "CPU kernels only; TensorFlow runs them on the host",
    "DkSlotContractGradG": "CPU kernels only; TensorFlow runs them on the host",
    "DkSlotContractGradR": "CPU kernels only; TensorFlow runs them on the host",
}

needs_avx2 = pytest.mark.skipif(
    not ops.cpu_products_preferred(), reason="no AVX2/FMA, a GPU, or DEEPKIT_CPU_PRODUCTS=0"
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """model.pb, model-c.pb (compressed), arrays of the first set and atype."""
    root = tmp_path_factory.mktemp("portable")
    _, arrays, atype = frozen_alcu_model(root)
    assert main(["compress", "-i", str(root / "model.pb"), "-o", str(root / "model-c.pb")]) == 0
    return root, arrays, atype


def gpu_kernel_ops() -> set[str]:
    """Ops registered for DEVICE_GPU in op_src/tf: REGISTER_KERNEL_BUILDER lines, directly
    or in a registration macro (`#define NAME(DEVICE, ...)`) invoked with DEVICE_GPU."""
    found = set()
    for source in sorted((REPO / "op_src" / "tf").glob("*.cc")):
        text = source.read_text()
        builder = r'REGISTER_KERNEL_BUILDER\(\s*Name\("(\w+)"\)\s*\.Device\((\w+)\)'
        found |= {op for op, device in re.findall(builder, text) if device == "DEVICE_GPU"}
        for macro, body in re.findall(r"#define (\w+)\(DEVICE\b[^)]*\)((?:.*\\\n)+.*)", text):
            if re.search(rf"^{macro}\(DEVICE_GPU\b", text, flags=re.MULTILINE):
                found |= set(re.findall(r'Name\("(\w+)"\)\s*\.Device\(DEVICE\)', body))
    return found


def op_types(graph_def) -> set[str]:
    """The ops of the graph and of its library's functions (the loops of a streamed model)."""
    bodies = [node for function in graph_def.library.function for node in function.node_def]
    return {node.op for node in [*graph_def.node, *bodies]}


def test_frozen_and_compressed_models_hold_only_portable_ops(models):
    root, _, _ = models
    gpu = gpu_kernel_ops()
    assert {"DkNeighborList", "DkEnvMat", "DkProdForce", "DkTabulateFusion"} <= gpu, gpu
    for name in ("model.pb", "model-c.pb"):
        types = op_types(read_graph_def(root / name))
        deepkit_ops = {t for t in types if t.startswith("Dk")}
        assert not deepkit_ops - gpu - HOST_OPS.keys(), f"{name}: no GPU kernel for them"
        assert not deepkit_ops & DEEPKIT_PRODUCTS and "MatMul" in types, name


def all_nodes(graph_def) -> dict:
    """Every node by name, those of the library's functions (a streamed model's loops) as
    <function>/<node>."""
    nodes = {n.name: n for n in graph_def.node}
    for function in graph_def.library.function:
        nodes |= {f"{function.signature.name}/{n.name}": n for n in function.node_def}
    return nodes


def product_nodes(graph_def) -> dict:
    return {k: n for k, n in all_nodes(graph_def).items() if n.op in PRODUCTS | DEEPKIT_PRODUCTS}


def test_python_rewrite_turns_every_float64_product_into_deepkit_s(models):
    root, _, _ = models
    for name in ("model.pb", "model-c.pb"):
        frozen = read_graph_def(root / name)
        cpu = specialise_for_cpu(frozen)
        before, after = product_nodes(frozen), product_nodes(cpu)
        assert before.keys() == after.keys() and before, name
        for key, node in before.items():
            assert node.attr["T"].type == tf.float64.as_datatype_enum
            batch = "Batch" in node.op
            assert after[key].op == ("DkBatchMatMul" if batch else "DkMatMul")
            renamed = dict(
                zip(("adj_x", "adj_y") if batch else TRANSPOSES, TRANSPOSES, strict=True)
            )
            internal = {k for k in node.attr if k.startswith("_")}
            assert set(after[key].attr) <= set(TRANSPOSES) | internal
            for old, new in renamed.items():
                assert after[key].attr[new].b == node.attr[old].b
        # Everything else as it was; a second pass changes nothing.
        others = [n for k, n in all_nodes(frozen).items() if k not in before]
        assert others == [n for k, n in all_nodes(cpu).items() if k not in before]
        assert specialise_for_cpu(cpu) == cpu


def crafted_graph_def():
    """Products the rewrite must take (names starting "take") and leave ("keep")."""
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf.ones((2, 2), tf.float64), tf.ones((3, 2, 2), tf.float64)
        tf.matmul(a, a, transpose_b=True, name="take_plain")
        tf.matmul(b, b, adjoint_a=True, name="take_batch_v2")
        tf.raw_ops.BatchMatMul(x=b, y=b, adj_y=True, name="take_batch")
        tf.raw_ops.BatchMatMulV3(x=b, y=b, Tout=tf.float64, adj_x=True, name="take_batch_v3")
        devices = ["/cpu:0", "/device:CPU:0", "/job:localhost/replica:0/task:0/device:CPU:0"]
        for k, device in enumerate(devices):
            with tf.device(device):
                tf.matmul(a, a, name=f"take_on_cpu_{k}")
        for name, device in (("keep_gpu", "/device:GPU:0"), ("keep_job", "/job:localhost")):
            with tf.device(device):
                tf.matmul(a, a, name=name)
        tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)), name="keep_float32")
    graph_def = graph.as_graph_def()
    later = graph_def.node.add()
    later.CopyFrom(next(n for n in graph_def.node if n.name == "take_plain"))
    later.name = "keep_later_attr"
    later.attr["precision"].s = b"high"  # an attr the rewrite does not know
    internal = graph_def.node.add()
    internal.CopyFrom(next(n for n in graph_def.node if n.name == "take_plain"))
    internal.name = "take_internal_attr"
    internal.attr["_class"].list.s.append(b"loc:@take_plain")
    return graph_def


def test_rewrite_takes_float64_products_on_the_cpu_only():
    cpu = product_nodes(specialise_for_cpu(crafted_graph_def()))
    assert {k for k, n in cpu.items() if n.op.startswith("Dk")} == {
        k for k in cpu if k.startswith("take")
    }
    assert cpu["take_batch_v2"].attr["transpose_a"].b
    assert not cpu["take_batch_v2"].attr["transpose_b"].b
    assert cpu["take_batch"].attr["transpose_b"].b and cpu["take_batch_v3"].attr["transpose_a"].b
    assert cpu["take_plain"].attr["transpose_b"].b
    assert list(cpu["take_internal_attr"].attr["_class"].list.s) == [b"loc:@take_plain"]
    assert "T" in cpu["keep_gpu"].attr and "precision" in cpu["keep_later_attr"].attr


def evaluate(model, arrays, atype):
    dp = DeepPot(model)
    types = op_types(dp.graph.as_graph_def())
    return types, dp.eval(arrays["coord"][:3], arrays["box"][:3], atype, atomic=True)


def assert_same(actual, expected, rtol=1e-12):
    for a, e in zip(actual, expected, strict=True):
        assert np.abs(a - e).max() <= rtol * max(np.abs(e).max(), 1e-300)


@needs_avx2
@pytest.mark.parametrize("name", ["model.pb", "model-c.pb"])
def test_deep_pot_with_and_without_the_rewrite_agree(models, monkeypatch, tmp_path, name):
    root, arrays, atype = models
    types, cpu = evaluate(root / name, arrays, atype)
    assert DEEPKIT_PRODUCTS <= types and not types & PRODUCTS
    monkeypatch.setenv("DEEPKIT_CPU_PRODUCTS", "0")
    types, plain = evaluate(root / name, arrays, atype)
    assert "MatMul" in types and not types & DEEPKIT_PRODUCTS
    assert_same(cpu, plain)
    # A model frozen with deepkit's products (deepkit <= 0.3) loads as it is, anywhere.
    old = tmp_path / "old.pb"
    old.write_bytes(specialise_for_cpu(read_graph_def(root / name)).SerializeToString())
    types, legacy = evaluate(old, arrays, atype)
    assert DEEPKIT_PRODUCTS <= types
    assert_same(legacy, cpu)


def with_rank4_product(graph_def):
    """graph_def and a float64 BatchMatMulV2 of 4-D operands, which DkBatchMatMul refuses."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.ones((2, 2, 2, 2), tf.float64, name="extra/x")
        tf.matmul(x, x, name="extra/product")
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    out.node.extend(graph.as_graph_def().node)
    return out


@needs_avx2
def test_deep_pot_keeps_the_frozen_graph_where_the_rewrite_does_not_import(models, tmp_path):
    root, arrays, atype = models
    path = tmp_path / "rank4.pb"
    path.write_bytes(with_rank4_product(read_graph_def(root / "model.pb")).SerializeToString())
    types, result = evaluate(path, arrays, atype)
    assert "BatchMatMulV2" in types and not types & DEEPKIT_PRODUCTS
    assert_same(result, evaluate(root / "model.pb", arrays, atype)[1])


# The C API: tests/capi/capi_check.c as in test_capi.py, and the rewrite on its own.


@pytest.fixture(scope="module")
def rewriter(tmp_path_factory):
    """tests/capi/graph_rewrite_check.cc with op_src/capi/graph_rewrite.cc, under the address
    and undefined-behaviour sanitizers where the compiler has them."""
    if CXX is None:
        pytest.skip("no C++ compiler (g++ or c++) on PATH")
    exe = tmp_path_factory.mktemp("rewrite") / "graph_rewrite_check"
    sources = [
        str(HERE / "capi" / "graph_rewrite_check.cc"),
        str(REPO / "op_src/capi/graph_rewrite.cc"),
    ]
    base = [
        CXX,
        "-std=c++17",
        "-O1",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        str(REPO / "op_src"),
    ]
    for extra in (["-fsanitize=address,undefined", "-fno-sanitize-recover"], []):
        if subprocess.run([*base, *extra, *sources, "-o", str(exe)], check=False).returncode == 0:
            return exe
    pytest.fail("graph_rewrite_check does not compile")


def rewrite_in_c(rewriter, source: Path, target: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(rewriter), "rewrite", str(source), str(target)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1) and result.stderr == "", (result.returncode, result.stderr)
    return result


def parse(path: Path):
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    return graph_def


def test_c_rewrite_equals_python_s(models, rewriter, tmp_path):
    root, _, _ = models
    crafted = tmp_path / "crafted.pb"
    crafted.write_bytes(crafted_graph_def().SerializeToString())
    for source in (root / "model.pb", root / "model-c.pb", crafted):
        expected = specialise_for_cpu(parse(source))
        result = rewrite_in_c(rewriter, source, tmp_path / "out.pb")
        changed = sum(n.op in DEEPKIT_PRODUCTS for n in product_nodes(expected).values())
        assert source.name != "model.pb" or expected.library.function  # streamed loops
        assert result.stdout == f"rewritten {changed}\n"
        assert parse(tmp_path / "out.pb") == expected, source.name
    # Nothing to do: every byte as it was.
    rewrite_in_c(rewriter, tmp_path / "out.pb", tmp_path / "again.pb")
    assert (tmp_path / "again.pb").read_bytes() == (tmp_path / "out.pb").read_bytes()


CRAFTED = {
    b"\x0a\x05\x12\x06MatMul": "node 0: length past the end",
    b"\x0a\x80": "varint past the end",
    b"\x0a" + b"\xff" * 10 + b"\x01": "varint longer than 10 bytes",
    b"\x0b\x0c": "unsupported wire type 3",
    b"\x00": "bad field number",
    b"\x0a\x08\x12\x06MatMul\x0a\x02\x2a\x05": "node 1: length past the end",
}


def test_c_rewrite_rejects_malformed_bytes(models, rewriter, tmp_path, rng):
    root, _, _ = models
    source = tmp_path / "bad.pb"
    for data, message in CRAFTED.items():
        source.write_bytes(data)
        result = rewrite_in_c(rewriter, source, tmp_path / "out.pb")
        assert result.returncode == 1 and message in result.stdout, (data, result.stdout)
    # Cuts and flipped bytes anywhere: an error or a rewrite, never a crash.
    frozen = (root / "model.pb").read_bytes()
    for cut in rng.integers(1, len(frozen), 60):
        source.write_bytes(frozen[:cut])
        rewrite_in_c(rewriter, source, tmp_path / "out.pb")
    for _ in range(60):
        damaged = np.frombuffer(frozen, np.uint8).copy()
        damaged[rng.integers(0, len(frozen), 8)] = rng.integers(0, 256, 8)
        source.write_bytes(damaged.tobytes())
        rewrite_in_c(rewriter, source, tmp_path / "out.pb")


def write_case(folder: Path, coord, atype, box) -> Path:
    """capi_check.c's input for one frame (see test_capi.write_case)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.asarray(atype, np.int32).tofile(folder / "atype.bin")
    np.asarray(coord, np.float64).tofile(folder / "coord.bin")
    np.asarray(box, np.float64).tofile(folder / "box.bin")
    (folder / "meta.txt").write_text(f"{len(coord)} {len(atype)} 0 1 0 0 0")
    return folder


def run_driver(driver, model, folder, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(driver), str(model), str(folder), "compute"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def kernels(stderr: str) -> set[str]:
    """Op types of the kernels TensorFlow made (its op_kernel VLOG at level 1)."""
    return set(re.findall(r"Instantiating kernel for node: \{\{node [^}]*\}\} = (\w+)\[", stderr))


@needs_avx2
@pytest.mark.parametrize("name", ["model.pb", "model-c.pb"])
def test_c_api_picks_deepkit_s_products_as_deep_pot_does(models, driver, tmp_path, name):
    root, arrays, atype = models
    folder = write_case(tmp_path / "case", arrays["coord"][:2], atype, arrays["box"][:2])
    expected = DeepPot(root / name).eval(arrays["coord"][:2], arrays["box"][:2], atype)
    verbose = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "op_kernel=1"}
    for products, choice in (("", DEEPKIT_PRODUCTS), ("0", {"MatMul", "BatchMatMulV2"})):
        result = run_driver(driver, root / name, folder, DEEPKIT_CPU_PRODUCTS=products, **verbose)
        assert result.returncode == 0, result.stderr[-2000:]
        made = kernels(result.stderr)
        assert "DkEnvMat" in made, "TensorFlow's kernel log changed: " + result.stderr[-500:]
        assert made & (PRODUCTS | DEEPKIT_PRODUCTS) == choice, products
        out = [np.fromfile(folder / f"out_{k}.bin") for k in ("energy", "force", "virial")]
        assert_same(out, [e.ravel() for e in expected], rtol=1e-12)


@needs_avx2
def test_c_api_keeps_the_frozen_graph_where_the_rewrite_does_not_import(models, driver, tmp_path):
    root, arrays, atype = models
    path = tmp_path / "rank4.pb"
    path.write_bytes(with_rank4_product(read_graph_def(root / "model.pb")).SerializeToString())
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    result = run_driver(driver, path, folder)
    assert result.returncode == 0, result.stderr
    expected = DeepPot(root / "model.pb").eval(arrays["coord"][:1], arrays["box"][:1], atype)
    assert_same([np.fromfile(folder / "out_energy.bin")], [expected[0].ravel()])


@pytest.mark.parametrize("products", ["", "0"])
def test_c_api_reports_malformed_models(models, driver, tmp_path, products):
    """With the rewrite (on AVX2 CPUs) its parser says what is wrong, without it TensorFlow."""
    root, arrays, atype = models
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    frozen = (root / "model.pb").read_bytes()
    for data in (frozen[: len(frozen) // 2], *CRAFTED):
        (tmp_path / "bad.pb").write_bytes(data)
        result = run_driver(driver, tmp_path / "bad.pb", folder, DEEPKIT_CPU_PRODUCTS=products)
        assert result.returncode == 1, (data[:20], result.returncode, result.stderr[-500:])
        if products == "" and ops.cpu_products_preferred():
            assert "bad.pb: not a frozen TensorFlow graph (malformed GraphDef" in result.stderr
        else:  # TensorFlow skips a group where a node should be: an empty graph
            assert re.search("bad.pb: not a (frozen TensorFlow graph|deepkit model)", result.stderr)
