"""Realistic wrong answers for exercise 07, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_LINEAR = """
def interpolated_inv_freq(head_dim, base, factor):
    pair = torch.arange({pairs}, dtype=torch.float64)
    theta = ({base}) ** (-{exponent})
    return ({result}).to({dtype})
"""


def _linear(pairs="head_dim // 2", base="base", exponent="2 * pair / head_dim",
            result="theta / factor", dtype="torch.float32"):
    """The solution with one part changed (the defaults give the right answer)."""
    return _LINEAR.format(pairs=pairs, base=base, exponent=exponent, result=result, dtype=dtype)


_LLAMA3 = """
def llama3_inv_freq(head_dim, base, factor, original_max_len, low_freq_factor, high_freq_factor):
    pair = torch.arange(head_dim // 2, dtype=torch.float64)
    theta = base ** (-{exponent})
    wavelength = 2 * math.pi / theta
    turns = {turns}
    weight = {weight}
    weight = {clamp}
    slow = {slow}
    return ({blend}).to({dtype})
"""


def _llama3(exponent="2 * pair / head_dim", turns="original_max_len / wavelength",
            weight="(turns - low_freq_factor) / (high_freq_factor - low_freq_factor)",
            clamp="weight.clamp(0.0, 1.0)", slow="theta / factor",
            blend="weight * theta + (1 - weight) * slow", dtype="torch.float32"):
    return _LLAMA3.format(exponent=exponent, turns=turns, weight=weight, clamp=clamp, slow=slow,
                          blend=blend, dtype=dtype)


_COUNTS = """
def llama3_pair_counts(head_dim, base, factor, original_max_len, low_freq_factor,
                       high_freq_factor):
    pair = torch.arange(head_dim // 2, dtype=torch.float64)
    wavelength = {wavelength}
    context = {context}
    kept = int((wavelength < context / {high}).sum())
    divided = int((wavelength > context / {low}).sum())
    return {result}
"""


def _counts(wavelength="2 * math.pi * base ** (2 * pair / head_dim)", context="original_max_len",
            high="high_freq_factor", low="low_freq_factor",
            result="kept, head_dim // 2 - kept - divided, divided"):
    return _COUNTS.format(wavelength=wavelength, context=context, high=high, low=low,
                          result=result)


WRONG_ANSWERS = {
    # ---- exercise 1: position interpolation by hand (3 points)
    "the factor applied to the base (NTK's move), not to the frequencies": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(base="base * factor", result="theta"),
    },
    "frequencies multiplied by the factor (positions stretched, not squeezed)": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(result="theta * factor"),
    },
    "exponent i/d instead of 2i/d": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(exponent="pair / head_dim"),
    },
    "exponent 2i/d with i counted from 1 (off by one)": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(exponent="2 * (pair + 1) / head_dim"),
    },
    "exponent 2i/(d − 2), so the slowest pair turns exactly 1/base per position": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(exponent="2 * pair / (head_dim - 2)"),
    },
    "wavelengths stretched by the factor, returned instead of frequencies": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(result="2 * math.pi / theta * factor"),
    },
    "float64 frequencies (HF's buffers are float32)": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(dtype="torch.float64"),
    },
    "the factor divides only the slowest pair (as if only it ran out of angles)": {
        "cell": "interpolated_inv_freq", "breaks": ["test_interpolated_inv_freq"],
        "source": _linear(result="torch.cat((theta[:-1], theta[-1:] / factor))"),
    },
    # ---- exercise 2: Llama 3's per-pair rule by hand (4 points)
    "frequency and wavelength confused: turns counted as L0 / θ": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(turns="original_max_len / theta"),
    },
    "turns without the 2π: L0·θ radians taken for turns": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(turns="original_max_len * theta"),
    },
    "low_freq_factor and high_freq_factor swapped in the smoothing weight": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(
            weight="(turns - high_freq_factor) / (low_freq_factor - high_freq_factor)"),
    },
    "the smoothing weight's sign reversed (1 at low_freq_factor turns, 0 at high)": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(
            weight="(high_freq_factor - turns) / (high_freq_factor - low_freq_factor)"),
    },
    "the smoothing weight over the wrong range: (r − low) / high": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(weight="(turns - low_freq_factor) / high_freq_factor"),
    },
    "the kept pairs divided and the divided ones kept": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(blend="weight * slow + (1 - weight) * theta"),
    },
    "no clamp: the straight line runs on past both ends": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(clamp="weight"),
    },
    "Llama 3's θ_i with i counted from 1 (exponent off by one)": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(exponent="2 * (pair + 1) / head_dim"),
    },
    "the slow pairs get a larger base (NTK) instead of θ / factor": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(slow="(base * factor) ** (-2 * pair / head_dim)"),
    },
    "blended in wavelength, not in frequency": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(blend="1 / (weight / theta + (1 - weight) / slow)"),
    },
    "float64 frequencies": {
        "cell": "llama3_inv_freq", "breaks": ["test_llama3_inv_freq"],
        "source": _llama3(dtype="torch.float64"),
    },
    # ---- exercise 3: predict the kept / blended / divided counts (3 points)
    "regions measured against the new length factor·L0, not the training length": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(context="factor * original_max_len"),
    },
    "frequency taken for wavelength": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(wavelength="base ** (-2 * pair / head_dim)"),
    },
    "low_freq_factor and high_freq_factor swapped in the boundaries": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(high="low_freq_factor", low="high_freq_factor",
                          result="kept, max(head_dim // 2 - kept - divided, 0), divided"),
    },
    "the wavelength without the 2π": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(wavelength="base ** (2 * pair / head_dim)"),
    },
    "blended pairs counted as kept (everything not divided is kept)": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(result="head_dim // 2 - divided, 0, divided"),
    },
    "0-d tensors, not Python ints": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(
            result="(torch.tensor(kept), torch.tensor(head_dim // 2 - kept - divided), "
                   "torch.tensor(divided))"),
    },
    "the order (divided, blended, kept), slowest first": {
        "cell": "llama3_pair_counts", "breaks": ["test_llama3_pair_counts"],
        "source": _counts(result="divided, head_dim // 2 - kept - divided, kept"),
    },
}

RIGHT_ANSWERS = {
    "interpolation one pair at a time with math, printing a note": {
        "cell": "interpolated_inv_freq",
        "source": """
def interpolated_inv_freq(head_dim, base, factor):
    values = []
    for i in range(head_dim // 2):
        values.append(1.0 / (base ** (2 * i / head_dim) * factor))
    print(f"squeezing positions by {factor}: the slowest pair now turns {values[-1]:.3g} rad/pos")
    return torch.tensor(values, dtype=torch.float32)
""",
    },
    "interpolation in float32, HF's way (1 / base^(2i/d), then divided)": {
        "cell": "interpolated_inv_freq",
        "source": """
def interpolated_inv_freq(head_dim, base, factor):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    inv_freq /= factor
    return inv_freq
""",
    },
    "interpolation with numpy, as positions squeezed": {
        "cell": "interpolated_inv_freq",
        "source": """
import numpy as np

def interpolated_inv_freq(head_dim, base, factor):
    theta = np.power(float(base), -np.arange(0, head_dim, 2) / head_dim)
    angle_at_one = 1.0 / factor * theta          # the angle of position 1/s
    return torch.from_numpy(angle_at_one).float()
""",
    },
    "Llama 3 pair by pair, as Meta's apply_scaling, with a warning": {
        "cell": "llama3_inv_freq",
        "source": """
import warnings

def llama3_inv_freq(head_dim, base, factor, original_max_len, low_freq_factor, high_freq_factor):
    low_freq_wavelen = original_max_len / low_freq_factor
    high_freq_wavelen = original_max_len / high_freq_factor
    new_freqs = []
    for i in range(head_dim // 2):
        freq = 1.0 / base ** (2 * i / head_dim)
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            new_freqs.append(freq)
        elif wavelen > low_freq_wavelen:
            new_freqs.append(freq / factor)
        else:
            smooth = (original_max_len / wavelen - low_freq_factor) / (
                high_freq_factor - low_freq_factor)
            new_freqs.append((1 - smooth) * freq / factor + smooth * freq)
    if factor == 1:
        warnings.warn("factor 1: nothing to stretch")
    return torch.tensor(new_freqs, dtype=torch.float32)
""",
    },
    "Llama 3 with torch.where in float32, HF's way": {
        "cell": "llama3_inv_freq",
        "source": """
def llama3_inv_freq(head_dim, base, factor, original_max_len, low_freq_factor, high_freq_factor):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
    wavelen = 2 * math.pi / inv_freq
    out = torch.where(wavelen > original_max_len / low_freq_factor, inv_freq / factor, inv_freq)
    smooth = (original_max_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = (wavelen >= original_max_len / high_freq_factor) & (
        wavelen <= original_max_len / low_freq_factor)
    return torch.where(medium, smoothed, out)
""",
    },
    "Llama 3 as a scale per pair: θ / (s − w·(s − 1))": {
        "cell": "llama3_inv_freq",
        "source": """
def llama3_inv_freq(head_dim, base, factor, original_max_len, low_freq_factor, high_freq_factor):
    theta = torch.tensor([base ** (-2 * i / head_dim) for i in range(head_dim // 2)],
                         dtype=torch.float64)
    turns = theta * original_max_len / (2 * math.pi)
    w = torch.clamp((turns - low_freq_factor) / (high_freq_factor - low_freq_factor), min=0, max=1)
    return (theta * (w + (1 - w) / factor)).float()
""",
    },
    "counts in closed form, with logarithms": {
        "cell": "llama3_pair_counts",
        "source": """
def llama3_pair_counts(head_dim, base, factor, original_max_len, low_freq_factor,
                       high_freq_factor):
    pairs = head_dim // 2
    # pair i is kept while 2π·base^(2i/d) < L0/high, i.e. i < d·ln(L0/(2π·high)) / (2·ln base)
    def first_pair_at_least(wavelength):
        x = head_dim * math.log(wavelength / (2 * math.pi)) / (2 * math.log(base))
        return min(max(math.ceil(x), 0), pairs)

    kept = first_pair_at_least(original_max_len / high_freq_factor)
    not_divided = first_pair_at_least(original_max_len / low_freq_factor)
    print("kept, blended, divided:", kept, not_divided - kept, pairs - not_divided)
    return (kept, not_divided - kept, pairs - not_divided)
""",
    },
    "counts from the turns each pair makes, with numpy": {
        "cell": "llama3_pair_counts",
        "source": """
import numpy as np

def llama3_pair_counts(head_dim, base, factor, original_max_len, low_freq_factor,
                       high_freq_factor):
    theta = base ** (-np.arange(0, head_dim, 2) / head_dim)
    turns = original_max_len * theta / (2 * np.pi)
    kept = int(np.sum(turns > high_freq_factor))
    divided = int(np.sum(turns < low_freq_factor))
    return tuple([kept, len(turns) - kept - divided, divided])
""",
    },
}
