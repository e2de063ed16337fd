"""The reverse-list gather of forces and atomic virials (op_src/lib/reverse_list.h), the
deterministic, atomic-free form the CUDA products can take: tests/lib/reverse_list_check.cc
compares it with prod_force / prod_virial (bit for bit on one thread) on small periodic
boxes with self images, a triclinic box, an open cluster, 1,536-atom water and ghost atoms."""

import subprocess
from pathlib import Path

import pytest
from toolchain import CXX

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++ or c++) on PATH")
def test_reverse_list_gather_matches_scatter(tmp_path):
    program = tmp_path / "reverse_list_check"
    sources = sorted(str(p) for p in (ROOT / "op_src" / "lib").glob("*.cc"))
    build = [CXX, "-std=c++17", "-O2", "-fopenmp", f"-I{ROOT / 'op_src'}", "-o", str(program)]
    subprocess.run(
        [*build, str(ROOT / "tests" / "lib" / "reverse_list_check.cc"), *sources], check=True
    )
    result = subprocess.run([str(program)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
