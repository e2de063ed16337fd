"""Every placeholder and output node name of deepkit graphs, declared once.

Training, freezing, DeepPot, the C API and the tests use these names; shapes in comments
(nf = frames, natoms = atoms per frame).
"""

# Inputs
COORD = "t_coord"  # (nf, natoms * 3) float64, Angstrom
ATYPE = "t_type"  # (nf, natoms) int32, indices into type_map, any order
BOX = "t_box"  # (nf, 9) float64, cell vectors as rows; zero rows: non-periodic
FPARAM = "t_fparam"  # (nf, numb_fparam) float64, frame parameters (when the model has them)
APARAM = "t_aparam"  # (nf, natoms * numb_aparam) float64, atomic parameters

# Inputs of the external-neighbour-list path (C API, MD engines with ghost atoms):
# atoms 0..nloc-1 are local, the rest ghosts; fparam / aparam (nloc atoms) as above.
EXT_COORD = "t_ext_coord"  # (nf, nall * 3) float64, Angstrom
EXT_ATYPE = "t_ext_type"  # (nf, nall) int32
EXT_NLOC = "t_ext_nloc"  # int32 scalar
EXT_OFFSETS = "t_ext_offsets"  # (nloc + 1) int32, CSR offsets into EXT_NEIGHBORS
EXT_NEIGHBORS = "t_ext_neighbors"  # (nnz) int32, neighbour candidates of each local atom

# Labels (training only)
LABEL_ENERGY = "t_energy"  # (nf,)
LABEL_FORCE = "t_force"  # (nf, natoms * 3)
LABEL_VIRIAL = "t_virial"  # (nf, 9)
LABEL_ATOM_ENER = "t_atom_ener"  # (nf, natoms)
FIND_PREFIX = "t_find_"  # scalar 1.0 / 0.0: whether the batch has the label

# Outputs
ENERGY = "o_energy"  # (nf,)
FORCE = "o_force"  # (nf, natoms * 3)
VIRIAL = "o_virial"  # (nf, 9)
ATOM_ENERGY = "o_atom_energy"  # (nf, natoms)
ATOM_VIRIAL = "o_atom_virial"  # (nf, natoms * 9)
MAX_NEIGHBORS = "o_max_neighbors"  # (nf, ntypes) largest neighbour count per type
TABLE_OVERFLOW = "o_table_overflow"  # (nf,) compressed models: net inputs beyond the table
# The external-list path: energies of the local atoms, forces on all nall atoms (the caller
# adds ghost forces to their owners), virial of the local atoms' energy.
EXT_ENERGY = "o_ext_energy"  # (nf,)
EXT_FORCE = "o_ext_force"  # (nf, nall * 3)
EXT_VIRIAL = "o_ext_virial"  # (nf, 9)
EXT_ATOM_ENERGY = "o_ext_atom_energy"  # (nf, nloc)
EXT_ATOM_VIRIAL = "o_ext_atom_virial"  # (nf, nall * 9)
EXT_TABLE_OVERFLOW = "o_ext_table_overflow"  # (nf,)

# Descriptor statistics (non-trainable variables, restored from checkpoints)
DESCRIPTOR_AVG = "descrpt_attr/t_avg"
DESCRIPTOR_STD = "descrpt_attr/t_std"

# Training-data statistics kept with the model (non-trainable variable)
MIN_NBOR_DIST = "train_attr/min_nbor_dist"  # float64 scalar, Angstrom; <= 0 when unknown
# Checkpoints only (not frozen): the normalised training input (JSON string), so that a
# checkpoint says what it is whatever the name of the input file written beside it.
TRAIN_INPUT = "train_attr/train_input"

# Compressed models: embedding-net tables, one pair of constants per net scope
TABLE_PREFIX = "compress"  # compress/<net scope>/table (intervals, 6, width), .../info (7,)

# Frozen-model metadata constants (deepkit freeze); strings are UTF-8 scalars.
ATTR_TYPE_MAP = "model_attr/type_map"  # string, element names separated by spaces
ATTR_RCUT = "model_attr/rcut"  # float64 scalar, Angstrom
ATTR_DESCRIPTOR = "model_attr/descriptor"  # string, e.g. "se_e2_a"
ATTR_SEL = "model_attr/sel"  # int32: ntypes counts per env matrix, one if type-blind
ATTR_COMPRESSED = "model_attr/compressed"  # bool scalar
ATTR_VERSION = "model_attr/version"  # string, deepkit version that froze the model
ATTR_TRAIN_INPUT = "model_attr/train_input"  # string, the normalised training input (JSON)
ATTR_COMPRESS = "model_attr/compress"  # string, compressed models: table settings (JSON)
# Models frozen by deepkit 0.3.0 lack these three: they are energy models, and their
# parameter counts are in ATTR_TRAIN_INPUT.
ATTR_MODEL_TYPE = "model_attr/model_type"  # string, the model kind: "ener"
ATTR_NUMB_FPARAM = "model_attr/numb_fparam"  # int32 scalar, frame parameters per frame
ATTR_NUMB_APARAM = "model_attr/numb_aparam"  # int32 scalar, atomic parameters per atom

FROZEN_OUTPUTS = (ENERGY, FORCE, VIRIAL, ATOM_ENERGY, ATOM_VIRIAL, MAX_NEIGHBORS)
FROZEN_ATTRS = (
    ATTR_TYPE_MAP,
    ATTR_RCUT,
    ATTR_DESCRIPTOR,
    ATTR_SEL,
    ATTR_COMPRESSED,
    ATTR_VERSION,
    ATTR_TRAIN_INPUT,
)
# The outputs of the two entry points by role: EnergyModel names its nodes with these,
# DeepPot finds them with these.
OUTPUTS = {
    "energy": ENERGY,
    "atom_energy": ATOM_ENERGY,
    "force": FORCE,
    "virial": VIRIAL,
    "atom_virial": ATOM_VIRIAL,
    "max_count": MAX_NEIGHBORS,
    "table_overflow": TABLE_OVERFLOW,
}
EXT_INPUTS = {
    "coord": EXT_COORD,
    "atype": EXT_ATYPE,
    "nloc": EXT_NLOC,
    "offsets": EXT_OFFSETS,
    "neighbors": EXT_NEIGHBORS,
}
EXT_OUTPUTS = {
    "energy": EXT_ENERGY,
    "atom_energy": EXT_ATOM_ENERGY,
    "force": EXT_FORCE,
    "virial": EXT_VIRIAL,
    "atom_virial": EXT_ATOM_VIRIAL,
    "table_overflow": EXT_TABLE_OVERFLOW,
}
# Kept when present: models frozen before they existed lack them.
FROZEN_OPTIONAL = (
    MIN_NBOR_DIST,
    TABLE_OVERFLOW,
    ATTR_COMPRESS,
    ATTR_MODEL_TYPE,
    ATTR_NUMB_FPARAM,
    ATTR_NUMB_APARAM,
    *EXT_OUTPUTS.values(),
)

# Tensor models (dipole: width 3, polar: width 9, row-major 3 x 3). Atomic tensors cover
# every atom, zeros for atoms outside sel_type; the global tensor is their sum.
LABEL_TENSOR_PREFIX = "t_label_"  # + label key: t_label_dipole, t_label_atomic_dipole, ...
ATOM_TENSOR = "o_atom_tensor"  # (nf, natoms * width)
TENSOR = "o_tensor"  # (nf, width)
# Frozen models only, DeePMD-kit's component-wise "force" and "virial" of the tensor.
TENSOR_FORCE = "o_tensor_force"  # (nf, width, natoms * 3): -d tensor_c / d coordinates
TENSOR_VIRIAL = "o_tensor_virial"  # (nf, width, 9): the virial of each component
EXT_ATOM_TENSOR = "o_ext_atom_tensor"  # (nf, nloc * width)
EXT_TENSOR = "o_ext_tensor"  # (nf, width)
EXT_TENSOR_FORCE = "o_ext_tensor_force"  # (nf, width, nall * 3)
EXT_TENSOR_VIRIAL = "o_ext_tensor_virial"  # (nf, width, 9)
ATTR_SEL_TYPE = "model_attr/sel_type"  # int32 (nsel_types,), the types with a tensor
TENSOR_OUTPUTS = {
    "atom_tensor": ATOM_TENSOR,
    "tensor": TENSOR,
    "tensor_force": TENSOR_FORCE,
    "tensor_virial": TENSOR_VIRIAL,
    "max_count": MAX_NEIGHBORS,
    "table_overflow": TABLE_OVERFLOW,
}
EXT_TENSOR_OUTPUTS = {
    "atom_tensor": EXT_ATOM_TENSOR,
    "tensor": EXT_TENSOR,
    "tensor_force": EXT_TENSOR_FORCE,
    "tensor_virial": EXT_TENSOR_VIRIAL,
    "table_overflow": EXT_TABLE_OVERFLOW,
}
