"""The version and the supported TensorFlow range are each written once: pyproject.toml's
"cpu" extra holds the range, deepkit.__version__ the version; the places TOML cannot derive
(the build requirement, the "gpu" extra) must say the same."""

import pathlib
import re
import subprocess
import sys
import tomllib

import deepkit

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def version_range(requirement: str) -> str:
    """ ">=2.21,<2.22" of "tensorflow-cpu>=2.21,<2.22" or "tensorflow[and-cuda]>=2.21,<2.22"."""
    return re.sub(r"^tensorflow(-cpu)?(\[[^]]*\])?", "", requirement)


def test_tensorflow_range_is_the_cpu_extras_everywhere():
    config = pyproject()
    extras = config["project"]["optional-dependencies"]
    (cpu,) = [r for r in extras["cpu"] if r.startswith("tensorflow")]
    (gpu,) = [r for r in extras["gpu"] if r.startswith("tensorflow")]
    (build,) = [r for r in config["build-system"]["requires"] if r.startswith("tensorflow")]
    assert version_range(gpu) == version_range(cpu) and build == cpu
    made = subprocess.run(
        ["make", "-s", "-n", "install", f"PYTHON={sys.executable}", "VENV=/nonexistent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f'"{cpu}"' in made  # the Makefile installs the range it read from pyproject.toml


def test_version_is_written_once():
    config = pyproject()
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "deepkit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", deepkit.__version__)
