"""DeePMD-kit data: npy and HDF5 systems, batching, statistics, conversion from ASE formats."""

from deepkit.data.batching import DataSystems, SetCache
from deepkit.data.discover import expand_systems
from deepkit.data.system import H5System, NpySystem, System

__all__ = ["DataSystems", "H5System", "NpySystem", "SetCache", "System", "expand_systems"]
