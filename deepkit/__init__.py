"""deepkit: Deep Potential models on TensorFlow graphs.

Importing the package is cheap: TensorFlow and the op library load only when an op is
first used (deepkit.ops).
"""

# The one place the version is written (pyproject.toml, the C API and frozen models read it).
__version__ = "0.4.0"


def __getattr__(name: str):
    # `from deepkit import DeepPot` without importing TensorFlow at `import deepkit`.
    if name in ("DeepPot", "DeepTensor", "DeepDipole", "DeepPolar"):
        import deepkit.infer

        return getattr(deepkit.infer, name)
    raise AttributeError(f"module 'deepkit' has no attribute {name!r}")
