"""course_lib — shared helpers for "Where am I? Positional encodings in Transformers".

One small module per idea, in course order:

    attention          00  scaled dot-product attention, a tiny Transformer with a position plug
    schemes            00  the PositionScheme interface and NoPositions
    integer_position   01  the raw index as a feature (concatenate or add)
    normalised_position 02 the index divided by the length or by max_len
    sinusoidal         03  the paper's sin/cos table, its layouts and its rotation map
    learned            04  a learned table of position vectors (BERT, GPT-2)
    rope               05  rotary position embeddings: rotate q and k by m·θ_i
    kv_cache           05  decoding with a KV cache under RoPE; positions from a padding mask
    relative_bias      06  Shaw's clipped relative keys; T5's bucketed, learned bias per offset
    alibi              06  ALiBi: a fixed linear distance penalty per head
    probes             06  what a causal mask leaks (a linear probe); attention past a window
    rope_scaling       07  RoPE context extension: PI, NTK, YaRN, Llama 3, LongRoPE, p-RoPE
    context_extension  07  a scaled RoPE in a model, a short fine-tune, dynamic NTK with a KV cache
    positions_2d       08  image patches: the patch grid, MAE's 2-D sinusoids, axial 2-D RoPE

and the course's tools: ``tasks`` (synthetic data), ``training`` (seeded loop), ``experiments`` (the
standard copy-back experiment, defined once and cached), ``grids`` (ch. 08: copy the token above on
a grid of patches, its model and experiment), ``parallel`` (several trainings at once,
one per core, same models), ``extrapolation`` (train at one length,
test at others), ``plotting`` (lecture style), ``explorers`` (widget logic, one module per chapter),
``checkers`` (readable exercise tests).
"""

import os as _os

import torch as _torch

# The course's models are tiny, so a second intra-op thread buys nothing, while
# thread contention costs a lot whenever another process holds a core (nbval
# running two notebooks at once, a class being graded, a busy laptop).
# `make bench` measures both cases side by side. One thread, unless the user
# chose a number through the usual environment variables.
if not any(_k in _os.environ for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS")):
    _torch.set_num_threads(1)

from .alibi import ALiBiPositions, alibi_bias, alibi_slopes
from .attention import (
    MLP,
    SelfAttention,
    TinyTransformer,
    TransformerBlock,
    attention_entropy,
    attention_logits,
    causal_mask,
    scaled_dot_product_attention,
)
from .checkers import (
    CheckFailed,
    check_does_not_use,
    check_equal,
    check_number,
    check_tensor,
    gradient_of,
)
from .context_extension import (
    CACHE_POLICIES,
    ScaledRotaryPositions,
    dynamic_ntk_attention,
    dynamic_ntk_decode,
    fine_tune_copy_model,
    fine_tune_copy_models,
    with_position,
)
from .experiments import (
    COPY_EXPERIMENT,
    CopyExperiment,
    start_copy_models,
    train_copy_model,
    train_copy_models,
)
from .extrapolation import extrapolation_table, measure_extrapolation, plot_per_position
from .grids import (
    GRID_DIRECTIONS,
    GRID_EXPERIMENT,
    GRID_SCHEMES,
    MIXED_GRID_EXPERIMENT,
    GridCopyTask,
    GridExperiment,
    GridTransformer,
    MixedGridSizes,
    grid_accuracy,
    grid_accuracy_by_patch,
    grid_scheme,
    similarity_by_raster_step,
    start_grid_models,
    train_grid_model,
    train_grid_models,
)
from .integer_position import IntegerPosition, layernorm_cosine, length_sweep, training_gradients
from .learned import (
    INITIAL_STD,
    PUBLISHED_TABLES,
    LearnedPositions,
    RandomStartPositions,
    interpolate_table,
    position_similarity,
    tile_table,
)
from .normalised_position import NormalisedPosition, normalised_positions
from .plotting import plot_attention, plot_vector_bars, use_lecture_style
from .positions_2d import (
    INTERPOLATION_MODES_2D,
    AxialRotaryPositions,
    Sinusoidal2DPositions,
    apply_rope_2d,
    axial_rope_angles,
    interpolate_table_2d,
    patch_grid,
    position_similarity_maps,
    sinusoidal_table_2d,
)
from .relative_bias import (
    ShawRelativeKeys,
    T5RelativeBias,
    shaw_relative_logits,
    t5_relative_position_bucket,
)
from .rope import (
    RotaryPositions,
    apply_rope,
    apply_rope_complex,
    rope_cos_sin,
    rope_inv_freq,
    rotate_every_two,
    rotate_half,
)
from .rope_scaling import ROPE_SCALING_KINDS, pair_regions, scaled_rope_inv_freq
from .schemes import NoPositions, PositionScheme
from .sinusoidal import (
    SinusoidalPositions,
    convert_layout,
    four_term_logits,
    half_split_permutation,
    offset_rotation,
    permute_residual_stream,
    sinusoid_frequencies,
    sinusoidal_table,
    tensor2tensor_sinusoidal_table,
)
from .summary import summary_table
from .tasks import (
    IGNORE_INDEX,
    AgentTask,
    CopyBackTask,
    CopyFirstTask,
    MixedLengths,
    copy_offset_profile,
    toy_attention_weights,
    toy_word_vectors,
)
from .training import accuracy, accuracy_by_position, seed_everything, train

__all__ = [
    "with_position",
    "fine_tune_copy_model",
    "fine_tune_copy_models",
    "dynamic_ntk_decode",
    "dynamic_ntk_attention",
    "ScaledRotaryPositions",
    "CACHE_POLICIES",
    "permute_residual_stream",
    "four_term_logits",
    "convert_layout",
    "training_gradients",
    "ALiBiPositions",
    "AgentTask",
    "CopyBackTask",
    "CopyFirstTask",
    "MixedLengths",
    "IGNORE_INDEX",
    "NormalisedPosition",
    "PUBLISHED_TABLES",
    "INITIAL_STD",
    "RandomStartPositions",
    "interpolate_table",
    "tile_table",
    "normalised_positions",
    "CheckFailed",
    "IntegerPosition",
    "LearnedPositions",
    "MLP",
    "NoPositions",
    "PositionScheme",
    "ROPE_SCALING_KINDS",
    "RotaryPositions",
    "SelfAttention",
    "SinusoidalPositions",
    "ShawRelativeKeys",
    "T5RelativeBias",
    "TinyTransformer",
    "TransformerBlock",
    "accuracy",
    "accuracy_by_position",
    "alibi_bias",
    "alibi_slopes",
    "apply_rope",
    "apply_rope_complex",
    "pair_regions",
    "scaled_rope_inv_freq",
    "attention_entropy",
    "attention_logits",
    "causal_mask",
    "check_does_not_use",
    "check_equal",
    "check_number",
    "check_tensor",
    "gradient_of",
    "copy_offset_profile",
    "extrapolation_table",
    "half_split_permutation",
    "layernorm_cosine",
    "measure_extrapolation",
    "length_sweep",
    "offset_rotation",
    "plot_attention",
    "plot_per_position",
    "position_similarity",
    "plot_vector_bars",
    "rope_cos_sin",
    "rope_inv_freq",
    "rotate_every_two",
    "rotate_half",
    "scaled_dot_product_attention",
    "seed_everything",
    "sinusoid_frequencies",
    "sinusoidal_table",
    "summary_table",
    "shaw_relative_logits",
    "t5_relative_position_bucket",
    "tensor2tensor_sinusoidal_table",
    "toy_attention_weights",
    "toy_word_vectors",
    "train",
    "train_copy_model",
    "train_copy_models",
    "start_copy_models",
    "CopyExperiment",
    "COPY_EXPERIMENT",
    "use_lecture_style",
    "patch_grid",
    "sinusoidal_table_2d",
    "axial_rope_angles",
    "apply_rope_2d",
    "interpolate_table_2d",
    "position_similarity_maps",
    "Sinusoidal2DPositions",
    "AxialRotaryPositions",
    "INTERPOLATION_MODES_2D",
    "GridCopyTask",
    "MixedGridSizes",
    "GridTransformer",
    "GridExperiment",
    "GRID_EXPERIMENT",
    "MIXED_GRID_EXPERIMENT",
    "GRID_SCHEMES",
    "GRID_DIRECTIONS",
    "grid_scheme",
    "train_grid_model",
    "train_grid_models",
    "start_grid_models",
    "grid_accuracy",
    "grid_accuracy_by_patch",
    "similarity_by_raster_step",
]
