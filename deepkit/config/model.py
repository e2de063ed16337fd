"""Input keys of `model`: type_map, descriptor and fitting_net (DeePMD-kit v2 names); the
descriptor's and fitting's own keys are declared beside their classes."""

from __future__ import annotations

from deepkit.config.args import REQUIRED, Arg, Group, positive
from deepkit.config.type_embedding import TYPE_EMBEDDING
from deepkit.registry import DESCRIPTORS, FITTINGS

# DeePMD-kit's descriptor names: those no class registers are refused in one line saying
# deepkit lacks them (registered names and aliases drop out of this list by themselves).
DEEPMD_DESCRIPTORS = (
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
)
# The descriptor and fitting variants are the registered classes' schemas (registry.py).
DESCRIPTOR = DESCRIPTORS.variants(unsupported=DEEPMD_DESCRIPTORS)
FITTING = FITTINGS.variants(default="ener", unsupported=("dos", "property", "global_polar"))

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
        Arg(
            "type_embedding",
            "dict|None",
            None,
            "One learned vector per element, shared by the descriptor's and fitting's nets "
            "(se_e2_a, se_atten, se_atten_v2 and hybrids of them take it)",
            group=TYPE_EMBEDDING,
        ),
        Arg("fitting_net", "dict", {}, "The fitting net", variants=FITTING),
    ],
    unsupported={
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
