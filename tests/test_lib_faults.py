"""op_src/lib under AddressSanitizer and UndefinedBehaviorSanitizer: tests/lib/fault_check.cc
feeds the kernels crafted inputs (boxes too small for rcut, singular and non-finite boxes,
bad types, overlapping atoms, bad neighbour lists, inconsistent tables, each neighbour
search in its mixed-types mode too) and random frames (boxes from 0.01 to 30 A, skewed or
not, 30% of them in mixed-types mode). Each call succeeds or throws InputError, which
the ops turn into InvalidArgument; a sanitizer report fails the test."""

import subprocess
from pathlib import Path

import pytest
from toolchain import CXX

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(CXX is None, reason="no C++ compiler (g++ or c++) on PATH")
def test_kernels_refuse_bad_input_cleanly_under_sanitizers(tmp_path):
    program = tmp_path / "fault_check"
    sources = [str(ROOT / "tests" / "lib" / "fault_check.cc")]
    sources += sorted(str(p) for p in (ROOT / "op_src" / "lib").glob("*.cc"))
    base = [CXX, "-std=c++17", "-O1", "-g", "-fopenmp", "-Wall", "-Wextra", "-Werror"]
    base += [f"-I{ROOT / 'op_src'}", *sources, "-o", str(program)]
    sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover"]
    if subprocess.run([*base, *sanitizers], check=False, capture_output=True).returncode != 0:
        subprocess.run(base, check=True)  # no sanitizer runtime here: the checks still run
    result = subprocess.run(
        [str(program), "22", "300"], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    counts = dict(line.split() for line in result.stdout.splitlines())
    assert int(counts["crafted"]) >= 46 and int(counts["random"]) == 300
    assert 30 < int(counts["refused"]) < 250  # both outcomes are exercised
