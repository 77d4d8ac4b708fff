"""Chapter 07: RoPE context extension, every method cross-checked against HF transformers'
``ROPE_INIT_FUNCTIONS`` (and a model's ``compute_default_rope_parameters`` for plain RoPE), with
HF configs built as v5 builds them (a config with ``rope_parameters``, ``rope_theta`` inside), on
the Llama-3.1 configuration, a Phi-3-style LongRoPE configuration and the course's toy one."""

from collections import Counter

import pytest
import torch

from course_lib.rope_scaling import ROPE_SCALING_KINDS, pair_regions, scaled_rope_inv_freq

# (head_dim, base, factor, original_max_len)
LLAMA31 = (128, 500000.0, 8.0, 8192)
TOY = (16, 10000.0, 4.0, 16)
PHI3 = (96, 10000.0, 32.0, 4096)               # Phi-3-mini-128k: 3072 / 32 heads, 4k -> 128k
CONFIGS = {"llama3.1": LLAMA31, "toy": TOY, "phi3": PHI3}
LLAMA3_PARAMS = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}
# Phi-3-style LongRoPE lists (the shape of the real ones: short ≈ 1, long rising to ≈ the factor)
SHORT = [1.0 + 0.05 * i / 47 for i in range(48)]
LONG = [1.0 + 31.0 * (i / 47) ** 2 for i in range(48)]
# HF computes in float32 (a few units in the last place, measured up to 9.0e-7 relative)
RTOL = 2e-6


def _hf_config(head_dim, max_len, rope_parameters):
    from transformers import LlamaConfig

    return LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim,
                       max_position_embeddings=max_len, rope_parameters=dict(rope_parameters))


def _hf(kind, config, seq_len=None):
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    inv_freq, attention = ROPE_INIT_FUNCTIONS[kind](config, None, seq_len=seq_len)
    return inv_freq, attention


def _hf_default(head_dim, base):
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = _hf_config(head_dim, 2048, {"rope_type": "default", "rope_theta": base})
    return LlamaRotaryEmbedding.compute_default_rope_parameters(config)


def _assert_close(ours, theirs):
    assert ours.dtype == torch.float32 and ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs.float(), rtol=RTOL, atol=0)


def _phi3_config():
    from transformers import Phi3Config

    return Phi3Config(hidden_size=3072, num_attention_heads=32, max_position_embeddings=131072,
                      original_max_position_embeddings=4096,
                      rope_parameters={"rope_type": "longrope", "short_factor": SHORT,
                                       "long_factor": LONG})


# --- every kind equals HF -------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("kind", ["default", "none"])
def test_plain_rope_equals_hf_compute_default_rope_parameters(name, kind):
    head_dim, base, factor, original = CONFIGS[name]
    theirs, attention = _hf_default(head_dim, base)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, kind, factor, original)
    _assert_close(ours, theirs)
    assert our_attention == attention == 1.0


@pytest.mark.parametrize("name", CONFIGS)
def test_linear_equals_hf_linear(name):
    head_dim, base, factor, original = CONFIGS[name]
    config = _hf_config(head_dim, original, {"rope_type": "linear", "rope_theta": base,
                                             "factor": factor})
    theirs, attention = _hf("linear", config)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "linear", factor, original)
    _assert_close(ours, theirs)
    assert our_attention == attention == 1.0


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_static_ntk_equals_hf_dynamic_with_factor_1_at_scale_times_original(name, scale):
    head_dim, base, _, original = CONFIGS[name]
    config = _hf_config(head_dim, original, {"rope_type": "dynamic", "rope_theta": base,
                                             "factor": 1.0})
    theirs, _ = _hf("dynamic", config, seq_len=scale * original)
    ours, attention = scaled_rope_inv_freq(head_dim, base, "ntk", scale, original)
    _assert_close(ours, theirs)
    assert attention == 1.0


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("times", [0.5, 1, 1.5, 2, 3, 16])
def test_dynamic_equals_hf_dynamic_at_every_length(name, times):
    head_dim, base, factor, original = CONFIGS[name]
    seq_len = max(1, int(times * original))
    config = _hf_config(head_dim, original, {"rope_type": "dynamic", "rope_theta": base,
                                             "factor": factor})
    theirs, _ = _hf("dynamic", config, seq_len=seq_len)
    ours, attention = scaled_rope_inv_freq(head_dim, base, "dynamic", factor, original, seq_len)
    _assert_close(ours, theirs)
    assert attention == 1.0


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("factor, original", [(8.0, None), (2.5, 100)])
def test_dynamic_is_exactly_plain_rope_at_or_below_the_original_length(name, factor, original):
    head_dim, base, _, config_original = CONFIGS[name]
    original = original or config_original
    plain, _ = scaled_rope_inv_freq(head_dim, base, "default", 1, original)
    for seq_len in (1, original // 2, original - 1, original):
        dynamic, _ = scaled_rope_inv_freq(head_dim, base, "dynamic", factor, original, seq_len)
        assert torch.equal(dynamic, plain), seq_len
    longer, _ = scaled_rope_inv_freq(head_dim, base, "dynamic", factor, original, original + 1)
    assert (longer[1:] < plain[1:]).all(), "one position past L0 every pair but the first slows"


def _yarn_hf(head_dim, base, factor, original, **extra):
    params = {"rope_type": "yarn", "rope_theta": base, "factor": factor,
              "original_max_position_embeddings": original, **extra}
    return _hf("yarn", _hf_config(head_dim, int(factor * original), params))


@pytest.mark.parametrize("name", CONFIGS)
def test_yarn_equals_hf_yarn(name):
    head_dim, base, factor, original = CONFIGS[name]
    theirs, attention = _yarn_hf(head_dim, base, factor, original)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "yarn", factor, original)
    _assert_close(ours, theirs)
    assert our_attention == pytest.approx(attention, rel=1e-12)


@pytest.mark.parametrize("extra", [
    {"beta_fast": 16.0, "beta_slow": 2.0},
    {"truncate": False},                                      # gpt-oss sets truncate = False
    {"mscale": 1.0, "mscale_all_dim": 0.5},                   # DeepSeek's ratio form
    {"attention_factor": 1.5},
])
def test_yarn_settings_equal_hf_yarn(extra):
    head_dim, base, factor, original = 64, 150000.0, 32.0, 4096
    theirs, attention = _yarn_hf(head_dim, base, factor, original, **extra)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "yarn", factor, original, **extra)
    _assert_close(ours, theirs)
    assert our_attention == pytest.approx(attention, rel=1e-12)


@pytest.mark.parametrize("name", CONFIGS)
def test_llama3_equals_hf_llama3(name):
    head_dim, base, factor, original = CONFIGS[name]
    params = {"rope_type": "llama3", "rope_theta": base, "factor": factor,
              "original_max_position_embeddings": original, **LLAMA3_PARAMS}
    theirs, attention = _hf("llama3", _hf_config(head_dim, int(factor * original), params))
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "llama3", factor, original,
                                               **LLAMA3_PARAMS)
    _assert_close(ours, theirs)
    assert our_attention == attention == 1.0


@pytest.mark.parametrize("seq_len", [None, 1, 4096, 4097, 131072])
def test_longrope_equals_hf_longrope_on_a_phi3_config_short_below_long_beyond(seq_len):
    head_dim, base, factor, original = PHI3
    theirs, attention = _hf("longrope", _phi3_config(), seq_len=seq_len)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "longrope", factor, original,
                                               seq_len, short_factor=SHORT, long_factor=LONG)
    _assert_close(ours, theirs)
    assert our_attention == pytest.approx(attention, rel=1e-12)
    assert our_attention == pytest.approx(1.1902, abs=1e-4), "√(1 + ln 32 / ln 4096)"


def test_longrope_attention_factor_setting_equals_hf():
    head_dim, base, factor, original = PHI3
    config = _phi3_config()
    config.rope_parameters["attention_factor"] = 1.25
    theirs, attention = _hf("longrope", config, seq_len=8192)
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "longrope", factor, original, 8192,
                                               short_factor=SHORT, long_factor=LONG,
                                               attention_factor=1.25)
    _assert_close(ours, theirs)
    assert our_attention == attention == 1.25


@pytest.mark.parametrize("head_dim, base, p, factor", [
    (512, 1e6, 0.25, 1.0),                                    # Gemma 4's full-attention layers
    (128, 1e6, 0.5, 1.0),                                     # LFM3's
    (16, 10000.0, 0.25, 4.0), (16, 10000.0, 0.3, 1.0), (16, 10000.0, 1.0, 2.0),
    (16, 10000.0, 0.0, 1.0),
])
def test_proportional_equals_hf_proportional(head_dim, base, p, factor):
    params = {"rope_type": "proportional", "rope_theta": base, "partial_rotary_factor": p}
    if factor != 1:
        params["factor"] = factor
    theirs, attention = _hf("proportional", _hf_config(head_dim, 2048, params))
    ours, our_attention = scaled_rope_inv_freq(head_dim, base, "proportional", factor, 2048,
                                               partial_rotary_factor=p)
    _assert_close(ours, theirs)
    assert torch.equal(ours == 0, theirs == 0), "the same pairs are left unrotated"
    assert our_attention == attention == 1.0


def test_proportional_is_what_gemma4_full_attention_layers_use():
    from transformers import Gemma4TextConfig

    full = Gemma4TextConfig().rope_parameters["full_attention"]
    assert full["rope_type"] == "proportional" and full["partial_rotary_factor"] == 0.25
    ours, _ = scaled_rope_inv_freq(512, full["rope_theta"], "proportional", 1, 8192,
                                   partial_rotary_factor=0.25)
    assert int((ours > 0).sum()) == 64, "a quarter of the 256 pairs rotate, the fastest"
    assert torch.equal(ours[:64], scaled_rope_inv_freq(512, 1e6, "default", 1, 8192)[0][:64])


# --- the per-pair regions of Llama 3.1 and YaRN, measured on HF's output ---------------------


def _hf_regions(theirs, plain, factor):
    """Per pair, read off HF's numbers: kept (θ' = θ), divided (θ' = θ/s) or blended."""
    ratio = (theirs.double() / plain.double()).tolist()
    return tuple("kept" if abs(r - 1) < 1e-6 else "divided" if abs(r - 1 / factor) < 1e-6
                 else "blended" for r in ratio)


def _counts(regions):
    counts = Counter(regions)
    return counts["kept"], counts["blended"], counts["divided"]


def test_llama31_keeps_29_pairs_blends_6_divides_29_as_hf():
    head_dim, base, factor, original = LLAMA31
    params = {"rope_type": "llama3", "rope_theta": base, "factor": factor,
              "original_max_position_embeddings": original, **LLAMA3_PARAMS}
    theirs, _ = _hf("llama3", _hf_config(head_dim, 131072, params))
    measured = _hf_regions(theirs, _hf_default(head_dim, base)[0], factor)
    ours = pair_regions(head_dim, base, "llama3", factor, original, **LLAMA3_PARAMS)
    assert ours == measured
    assert _counts(ours) == (29, 6, 29)


def test_yarn_on_llama31_keeps_19_blends_16_divides_29_attention_1_2079_as_hf():
    head_dim, base, factor, original = LLAMA31
    theirs, attention = _yarn_hf(head_dim, base, factor, original)
    measured = _hf_regions(theirs, _hf_default(head_dim, base)[0], factor)
    ours = pair_regions(head_dim, base, "yarn", factor, original)
    assert ours == measured
    assert _counts(ours) == (19, 16, 29)
    our_attention = scaled_rope_inv_freq(head_dim, base, "yarn", factor, original)[1]
    assert our_attention == pytest.approx(1.2079, abs=1e-4)
    assert attention == pytest.approx(1.2079, abs=1e-4)


def test_at_toy_scale_llama3_and_yarn_collapse_to_nearly_plain_interpolation():
    head_dim, base, factor, original = TOY
    def counts(kind, **params):
        return _counts(pair_regions(head_dim, base, kind, factor, original, **params))

    assert counts("llama3", **LLAMA3_PARAMS) == (0, 1, 7)
    assert counts("yarn") == (1, 0, 7)
    assert counts("linear") == (0, 0, 8)
    assert counts("default") == (8, 0, 0)


def test_regions_do_not_depend_on_the_factor():
    for factor in (1.0, 2.0, 32.0):
        assert _counts(pair_regions(128, 500000.0, "yarn", factor, 8192)) == (19, 16, 29)


# --- devices and dtypes ------------------------------------------------------------------------


KIND_PARAMS = {"llama3": LLAMA3_PARAMS, "longrope": {"short_factor": SHORT, "long_factor": LONG},
               "proportional": {"partial_rotary_factor": 0.25}}


@pytest.mark.parametrize("kind", ROPE_SCALING_KINDS)
def test_every_kind_builds_float32_on_the_meta_device(kind):
    head_dim, base, factor, original = PHI3
    inv_freq, attention = scaled_rope_inv_freq(head_dim, base, kind, factor, original, 8192,
                                               device="meta", **KIND_PARAMS.get(kind, {}))
    assert inv_freq.device.type == "meta"
    assert inv_freq.shape == (head_dim // 2,) and inv_freq.dtype == torch.float32
    assert isinstance(attention, float)


@pytest.mark.parametrize("kind", ROPE_SCALING_KINDS)
def test_float64_output_is_the_float32_one_before_its_single_rounding(kind):
    head_dim, base, factor, original = PHI3
    params = KIND_PARAMS.get(kind, {})
    wide, _ = scaled_rope_inv_freq(head_dim, base, kind, factor, original, 8192,
                                   dtype=torch.float64, **params)
    narrow, _ = scaled_rope_inv_freq(head_dim, base, kind, factor, original, 8192, **params)
    assert wide.dtype == torch.float64
    assert torch.equal(narrow, wide.float())


@pytest.mark.parametrize("name", ["llama3.1", "phi3"])
@pytest.mark.parametrize("kind", ["default", "linear", "yarn", "llama3"])
def test_hf_float32_frequencies_are_within_1e_6_of_float64_ours_within_one_rounding(kind, name):
    head_dim, base, factor, original = CONFIGS[name]
    params = KIND_PARAMS.get(kind, {})
    wide, _ = scaled_rope_inv_freq(head_dim, base, kind, factor, original,
                                   dtype=torch.float64, **params)
    narrow, _ = scaled_rope_inv_freq(head_dim, base, kind, factor, original, **params)
    if kind == "default":
        theirs = _hf_default(head_dim, base)[0]
    elif kind == "yarn":
        theirs = _yarn_hf(head_dim, base, factor, original)[0]
    else:
        hf_params = {"rope_type": kind, "rope_theta": base, "factor": factor,
                     "original_max_position_embeddings": original, **params}
        theirs = _hf(kind, _hf_config(head_dim, int(factor * original), hf_params))[0]
    hf_error = ((theirs.double() - wide).abs() / wide).max().item()
    our_error = ((narrow.double() - wide).abs() / wide).max().item()
    assert our_error <= 2.0 ** -24 < hf_error < 1e-6, (our_error, hf_error)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("args, params, message", [
    ((16, 1e4, "ntk-aware", 2, 16), {}, "kind must be one of 'default', 'none', 'linear'"),
    ((16, 1e4, "llama3", 2, 16), {"low_freq_factor": 1}, r"missing \['high_freq_factor'\]"),
    ((16, 1e4, "linear", 2, 16), {"beta_fast": 32}, r"unknown \['beta_fast'\]"),
    ((16, 1e4, "yarn", 2, 16), {"low_freq_factor": 1}, "beta_fast, beta_slow"),
    ((16, 1e4, "linear", 0.5, 16), {}, "factor must be at least 1"),
    ((15, 1e4, "linear", 2, 16), {}, "head_dim must be even"),
    ((16, -1.0, "linear", 2, 16), {}, "base must be a positive number"),
    ((16, 1e4, "linear", 2, 0), {}, "original_max_len must be at least 1"),
    ((16, 1e4, "dynamic", 2, 16), {}, "give seq_len"),
    ((2, 1e4, "ntk", 2, 16), {}, "head_dim must be at least 4"),
    ((16, 1e4, "longrope", 2, 16), {"short_factor": [1.0] * 7, "long_factor": [2.0] * 8},
     "short_factor must be a list of 8 numbers"),
    ((16, 1e4, "longrope", 2, 16), {"short_factor": [1.0] * 8, "long_factor": [0.0] * 8},
     r"long_factor\[0\] must be a positive number"),
    ((16, 1e4, "yarn", 2, 16), {"mscale": 1.0}, "give both or neither"),
    ((16, 1e4, "yarn", 2, 16), {"beta_fast": 1, "beta_slow": 32}, "must exceed beta_slow"),
    ((16, 1e4, "yarn", 2, 16), {"truncate": "yes"}, "truncate must be True or False"),
    ((16, 1e4, "llama3", 2, 16), {"low_freq_factor": 4, "high_freq_factor": 1},
     "high_freq_factor must exceed low_freq_factor"),
    ((16, 1e4, "proportional", 2, 16), {"partial_rotary_factor": 1.5}, "between 0 and 1"),
    ((16, 1e4, "proportional", 2, 16), {}, r"missing \['partial_rotary_factor'\]"),
])
def test_bad_input_raises_a_value_error_that_says_what_is_allowed(args, params, message):
    with pytest.raises(ValueError, match=message):
        scaled_rope_inv_freq(*args, **params)


def test_bad_seq_len_and_dtype_raise_value_errors():
    with pytest.raises(ValueError, match="seq_len must be at least 1"):
        scaled_rope_inv_freq(16, 1e4, "dynamic", 2, 16, 0)
    with pytest.raises(ValueError, match="dtype must be torch.float32"):
        scaled_rope_inv_freq(16, 1e4, "linear", 2, 16, dtype=torch.float16)


def test_pair_regions_refuses_methods_that_are_not_a_blend():
    with pytest.raises(ValueError, match="only the blend methods do"):
        pair_regions(16, 1e4, "ntk", 2, 16)
