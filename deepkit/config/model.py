"""Input keys of `model`: type_map, descriptor and fitting_net (DeePMD-kit v2 names)."""

from __future__ import annotations

from deepkit.config.args import (
    REQUIRED,
    Arg,
    Group,
    Variants,
    all_positive,
    non_negative,
    one_of,
    positive,
)

ACTIVATIONS = ("tanh", "gelu", "gelu_tf", "relu", "relu6", "softplus", "sigmoid", "linear", "none")
PRECISIONS = ("default", "float64", "float32")


def _sel(value) -> str | None:
    if isinstance(value, list):
        return None if all(v >= 0 for v in value) else "every entry must be >= 0"
    if value == "auto":
        return None
    if value.startswith("auto:"):
        try:
            return None if float(value[5:]) > 0 else "the auto:FACTOR factor must be positive"
        except ValueError:
            return "should be auto:FACTOR with a number, e.g. auto:1.1"
    return 'should be a list of ints, "auto" or "auto:FACTOR"'


def _exclude_types(value) -> str | None:
    return None if all(len(pair) == 2 for pair in value) else "every entry must be a pair of types"


def _common_descriptor_args() -> list[Arg]:
    return [
        Arg(
            "sel",
            "list[int]|str",
            "auto",
            "Neighbour slots per type within rcut; 'auto' or "
            "'auto:FACTOR' sets it from the data at training start (max count x FACTOR, "
            "default 1.1, rounded up to a multiple of 4)",
            check=_sel,
        ),
        Arg("rcut", "float", 6.0, "Cut-off radius, Angstrom", check=positive),
        Arg(
            "rcut_smth",
            "float",
            0.5,
            "Where the smooth switch starts, Angstrom (< rcut)",
            check=non_negative,
        ),
        Arg(
            "neuron",
            "list[int]",
            [10, 20, 40],
            "Widths of the embedding net layers",
            check=all_positive,
        ),
        Arg(
            "activation_function",
            "str",
            "tanh",
            "Embedding net activation",
            check=one_of(*ACTIVATIONS),
        ),
        Arg(
            "resnet_dt", "bool", False, "Timestep-scaled residual connections in the embedding net"
        ),
        Arg(
            "type_one_side",
            "bool",
            False,
            "One embedding net per neighbour type (else per centre and neighbour type pair)",
        ),
        Arg(
            "precision",
            "str",
            "default",
            "Precision of the embedding nets (default: float64)",
            check=one_of(*PRECISIONS),
        ),
        Arg("trainable", "bool", True, "Whether the embedding nets are trained"),
        Arg("seed", "int|None", None, "Random seed of the initial parameters"),
        Arg(
            "exclude_types",
            "list[list[int]]",
            [],
            "Type pairs whose interaction is left out",
            check=_exclude_types,
        ),
        Arg("set_davg_zero", "bool", False, "Keep the env-mat average at zero"),
        Arg(
            "env_protection",
            "float",
            0.0,
            "Accepted for DeePMD-kit inputs; only 0 is supported",
            check=lambda v: None if v == 0 else "only 0 is supported",
        ),
    ]


SE_E2_A = Group(
    _common_descriptor_args()
    + [
        Arg(
            "axis_neuron",
            "int",
            4,
            "Columns M2 of the axis matrix (sub-matrix of G)",
            alias=("n_axis_neuron",),
            check=positive,
        )
    ],
    unsupported={
        "type_nchanl": "",
        "type_nlayer": "",
        "numb_aparam": "",
        "stripped_type_embedding": "",
    },
)
SE_E2_R = Group(_common_descriptor_args(), unsupported={"type_nchanl": "", "type_nlayer": ""})

DESCRIPTOR = Variants(
    {"se_e2_a": SE_E2_A, "se_e2_r": SE_E2_R},
    aliases={"se_a": "se_e2_a", "se_r": "se_e2_r"},
    unsupported=(
        "se_e3",
        "se_at",
        "se_a_3be",
        "se_t",
        "se_a_tpe",
        "se_a_ebd",
        "se_atten",
        "se_atten_v2",
        "se_a_mask",
        "hybrid",
        "loc_frame",
        "dpa1",
        "dpa2",
    ),
    doc={
        "se_e2_a": "smooth edition, two-body embedding, full radial and angular information",
        "se_e2_r": "smooth edition, two-body embedding, radial information only",
    },
)

FITTING_ENER = Group(
    [
        Arg(
            "neuron",
            "list[int]",
            [120, 120, 120],
            "Widths of the fitting net layers",
            alias=("n_neuron",),
            check=all_positive,
        ),
        Arg(
            "activation_function",
            "str",
            "tanh",
            "Fitting net activation",
            check=one_of(*ACTIVATIONS),
        ),
        Arg(
            "precision",
            "str",
            "default",
            "Precision of the fitting net (default: float64)",
            check=one_of(*PRECISIONS),
        ),
        Arg("resnet_dt", "bool", True, "Timestep-scaled residual connections"),
        Arg(
            "trainable",
            "bool|list[bool]",
            True,
            "Whether the fitting net (or each layer) is trained",
        ),
        Arg("rcond", "float|None", None, "Cut-off ratio of the least-squares energy bias"),
        Arg("seed", "int|None", None, "Random seed of the initial parameters"),
        Arg("atom_ener", "list[float|None]", [], "Fixed energies of isolated atoms per type"),
        Arg("numb_fparam", "int", 0, "Frame parameters (fparam.npy columns)", check=non_negative),
        Arg("numb_aparam", "int", 0, "Atomic parameters per atom (aparam.npy)", check=non_negative),
    ],
    unsupported={
        "layer_name": "",
        "use_aparam_as_mask": "",
        "dim_case_embd": "",
        "default_fparam": "",
    },
)
FITTING = Variants(
    {"ener": FITTING_ENER},
    default="ener",
    unsupported=("dipole", "polar", "dos", "property", "global_polar"),
    doc={"ener": "energy fitting: atomic energies summed to the total"},
)

MODEL = Group(
    [
        Arg(
            "type_map",
            "list[str]",
            REQUIRED,
            "Element name of each type index; systems are mapped onto it by their type_map.raw",
        ),
        Arg(
            "data_stat_nbatch",
            "int",
            10,
            "Batches per system sampled for the statistics",
            check=positive,
        ),
        Arg(
            "data_stat_protect",
            "float",
            1e-2,
            "Smallest std of the env-mat statistics",
            check=positive,
        ),
        Arg("descriptor", "dict", {}, "The descriptor", variants=DESCRIPTOR),
        Arg("fitting_net", "dict", {}, "The fitting net", variants=FITTING),
    ],
    unsupported={
        "type_embedding": "",
        "modifier": "",
        "compress": "use `deepkit compress`",
        "spin": "",
        "use_srtab": "",
        "smin_alpha": "",
        "sw_rmin": "",
        "sw_rmax": "",
        "srtab_add_bias": "",
        "model_dict": "multi-task models",
        "finetune_head": "",
        "out_bias": "",
        "pair_exclude_types": "",
        "atom_exclude_types": "",
    },
)
