"""Realistic wrong answers for exercise 02, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_CHECKS = '''
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
'''

WRONG_ANSWERS = {
    # --- exercise 1: normalise --------------------------------------------------------------------
    "divides by the length n instead of n - 1": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / (seq_len if max_len is None else max_len)
""",
    },
    "divides a one-token sequence by zero (nan)": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / ((seq_len - 1) if max_len is None else max_len)
""",
    },
    "integer division: every position but the last becomes 0": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    positions = torch.arange(seq_len)
    divisor = max(seq_len - 1, 1) if max_len is None else max_len
    return (positions // divisor).float()
""",
    },
    "divides by max_len - 1, as if max_len were a length to span": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / max((seq_len if max_len is None else max_len) - 1, 1)
""",
    },
    "clips p/max_len at 1 (the prompt says values may exceed 1)": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return (positions / max_len).clamp(max=1.0)
""",
    },
    "numpy route: float64 comes back": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "import numpy as np\n\ndef normalise(seq_len, max_len=None):" + _CHECKS + """
    divisor = max(seq_len - 1, 1) if max_len is None else max_len
    return torch.from_numpy(np.arange(seq_len) / divisor)
""",
    },
    "float32 in general but an int64 [0] for one token": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": "def normalise(seq_len, max_len=None):" + _CHECKS + """
    if seq_len == 1:
        return torch.tensor([0])
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / (seq_len - 1 if max_len is None else max_len)
""",
    },
    "no check of max_len: max_len = 0 gives nan and inf": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return positions / max_len
""",
    },
    "`if not max_len` treats max_len = 0 as 'not given'": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    positions = torch.arange(seq_len, dtype=torch.float32)
    if not max_len:
        return positions / max(seq_len - 1, 1)
    if max_len < 0:
        raise ValueError(f"max_len must be positive, got {max_len}")
    return positions / max_len
""",
    },
    "a bare ValueError() with no message": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    if seq_len < 1 or (max_len is not None and max_len < 1):
        raise ValueError()
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return positions / max_len
""",
    },
    "checks max_len == 0 only: a negative max_len flips the order": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    if max_len == 0:
        raise ValueError("max_len must not be 0")
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return positions / max_len
""",
    },
    "no check of seq_len: normalise(0) returns an empty tensor": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return positions / max_len
""",
    },
    "asserts instead of raising ValueError": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    assert seq_len >= 1, "seq_len must be at least 1"
    assert max_len is None or max_len >= 1, "max_len must be at least 1"
    positions = torch.arange(seq_len, dtype=torch.float32)
    if max_len is None:
        return positions / max(seq_len - 1, 1)
    return positions / max_len
""",
    },
    "calls the library helper instead of writing it": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
from course_lib import normalised_positions

def normalise(seq_len, max_len=None):
    if max_len is None:
        return normalised_positions(seq_len)
    return normalised_positions(seq_len, "by_max_len", max_len)
""",
    },
    # --- exercise 2: copied_offset ----------------------------------------------------------------
    "believes the model keeps copying `offset` back (consistency)": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return float(offset)
""",
    },
    "scales by n instead of n - 1": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return offset * test_len / train_len
""",
    },
    "inverts the ratio of lengths": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return offset * (train_len - 1) / (test_len - 1)
""",
    },
    ("returns nan (not a number compares False with everything: a checker must not let it "
     "through)"): {
        "cell": "copied_offset", "breaks": ["test_copied_offset"],
        "source": "def copied_offset(offset, train_len, test_len):\n    return float('nan')\n",
    },
    "rounds to the nearest token (the prompt asks for the unrounded place)": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return float(round(offset * (test_len - 1) / (train_len - 1)))
""",
    },
    "integer division of the scaled offset": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return offset * (test_len - 1) // (train_len - 1)
""",
    },
    "adds the extra length instead of scaling": {
        "cell": "copied_offset",
        "breaks": ["test_copied_offset"],
        "source": """
def copied_offset(offset, train_len, test_len):
    return float(offset + test_len - train_len)
""",
    },
    # --- exercise 3: predicted_accuracy -----------------------------------------------------------
    "averages over every position, forgetting the unscored first ones": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    seen = min(train_len, test_len) - offset
    unseen = max(test_len - train_len, 0)
    return (seen + unseen / vocab_size) / test_len
""",
    },
    "unseen positions score 0, not chance": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    return (min(train_len, test_len) - offset) / (test_len - offset)
""",
    },
    "assumes the test sequence is never shorter than training": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    return (train_len - offset + (test_len - train_len) / vocab_size) / (test_len - offset)
""",
    },
    "counts position train_len as seen (p <= train_len)": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    seen = min(train_len + 1, test_len) - offset
    unseen = max(test_len - train_len - 1, 0)
    return (seen + unseen / vocab_size) / (test_len - offset)
""",
    },
    "averages the two rates instead of weighting them by their positions": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    if test_len <= train_len:
        return 1.0
    return (1 + 1 / vocab_size) / 2
""",
    },
    "subtracts the offset from the unseen positions too": {
        "cell": "predicted_accuracy",
        "breaks": ["test_predicted_accuracy"],
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    scored = test_len - offset
    seen = min(train_len, test_len) - offset
    unseen = max(test_len - train_len - offset, 0)
    return (seen + unseen / vocab_size) / scored
""",
    },
    # --- exercise 4: first_merged_length ----------------------------------------------------------
    "stops where the gap falls below the step (one length too early)": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    return int(2 / torch.finfo(dtype).eps) + 2
""",
    },
    "takes eps (the step above 1) as the step below 1": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    return int(1 / torch.finfo(dtype).eps) + 3
""",
    },
    "uses finfo's decimal resolution instead of eps": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    return int(2 / torch.finfo(dtype).resolution) + 3
""",
    },
    "scanned float16 and returns its answer for every dtype": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    return 2051
""",
    },
    "mantissa bits without the implicit leading bit": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    mantissa_bits = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23}[dtype]
    return 2 ** mantissa_bits + 3
""",
    },
    "looks for the smallest step near 0 (finfo.tiny): far too long": {
        "cell": "first_merged_length",
        "breaks": ["test_first_merged_length"],
        "source": """
def first_merged_length(dtype):
    return int(1 / torch.finfo(dtype).tiny) + 2
""",
    },
}

# Correct answers written differently from the solution: they must score full marks.
RIGHT_ANSWERS = {
    "torch.linspace for the by-length case, errors first": {
        "cell": "normalise",
        "source": """
def normalise(seq_len, max_len=None):
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    if max_len is not None:
        if max_len <= 0:
            raise ValueError(f"max_len must be positive, got {max_len!r}")
        return torch.arange(seq_len, dtype=torch.float32) / max_len
    if seq_len == 1:
        return torch.zeros(1)
    return torch.linspace(0, 1, seq_len)
""",
    },
    "a loop over positions in float64, converted to float32, with a print and a warning": {
        "cell": "normalise",
        "source": """
import warnings

def normalise(seq_len, max_len=None):
    if seq_len <= 0:
        raise ValueError("seq_len has to be 1 or more")
    if max_len is not None and max_len <= 0:
        raise ValueError("max_len has to be 1 or more")
    divisor = (seq_len - 1 if seq_len > 1 else 1) if max_len is None else max_len
    if max_len is not None and seq_len > max_len:
        warnings.warn("positions past max_len get values above 1")
    values = [p / divisor for p in range(seq_len)]
    print("normalised", len(values), "positions")
    return torch.tensor(values, dtype=torch.float64).to(torch.float32)
""",
    },
    "copied offset as the normalised difference times the new length": {
        "cell": "copied_offset",
        "source": """
def copied_offset(offset, train_len, test_len):
    learned_difference = offset / (train_len - 1)
    one_token = 1 / (test_len - 1)
    return learned_difference / one_token
""",
    },
    "accuracy as a weighted average of two rates": {
        "cell": "predicted_accuracy",
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    scored = test_len - offset
    unseen_fraction = max(0, test_len - train_len) / scored
    return (1 - unseen_fraction) * 1.0 + unseen_fraction / vocab_size
""",
    },
    "accuracy summed position by position, as a tensor": {
        "cell": "predicted_accuracy",
        "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    p = torch.arange(offset, test_len)
    per_position = torch.where(p < train_len, 1.0, 1.0 / vocab_size)
    return per_position.double().mean()
""",
    },
    "mantissa bits with the implicit bit": {
        "cell": "first_merged_length",
        "source": """
def first_merged_length(dtype):
    stored_bits = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23}[dtype]
    return 2 ** (stored_bits + 1) + 3
""",
    },
    "reason to the threshold, then search upward with the recipe": {
        "cell": "first_merged_length",
        "source": """
def first_merged_length(dtype):
    n = int(2 / torch.finfo(dtype).eps)          # the gap is still at least the step below 1
    while True:
        values = (torch.arange(n, dtype=torch.float64) / (n - 1)).to(dtype)
        if (values.diff() == 0).any():
            return n
        n += 1
""",
    },
}
