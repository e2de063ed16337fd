"""deepkit: Deep Potential models on TensorFlow graphs.

Importing the package is cheap: TensorFlow and the op library load only when an op is
first used (deepkit.ops).
"""

__version__ = "0.1.0"
