"""Realistic wrong answers for exercise 02, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

WRONG_ANSWERS = {
    "divides by the length n instead of n - 1": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / (seq_len if max_len is None else max_len)
""",
    },
    "divides a one-token sequence by zero (nan)": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / ((seq_len - 1) if max_len is None else max_len)
""",
    },
    "integer division: every position but the last becomes 0": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    positions = torch.arange(seq_len)
    divisor = max(seq_len - 1, 1) if max_len is None else max_len
    return (positions // divisor).float()
""",
    },
    "divides by max_len - 1, as if max_len were a length to span": {
        "cell": "normalise",
        "breaks": ["test_normalise"],
        "source": """
def normalise(seq_len, max_len=None):
    positions = torch.arange(seq_len, dtype=torch.float32)
    return positions / max((seq_len if max_len is None else max_len) - 1, 1)
""",
    },
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
    "returns nan (not a number compares False with everything: a checker must not let it through)": {
        "cell": "copied_offset", "breaks": ["test_copied_offset"],
        "source": "def copied_offset(offset, train_len, test_len):\n    return float('nan')\n",
    },
}
WRONG_ANSWERS["counts position train_len as seen (p <= train_len)"] = {
    "cell": "predicted_accuracy",
    "breaks": ["test_predicted_accuracy"],
    "source": """
def predicted_accuracy(train_len, test_len, offset, vocab_size):
    seen = min(train_len + 1, test_len) - offset
    unseen = max(test_len - train_len - 1, 0)
    return (seen + unseen / vocab_size) / (test_len - offset)
""",
}

# Correct answers written differently from the solution: they must score full marks.
RIGHT_ANSWERS = {
    "torch.linspace for the by-length case": {
        "cell": "normalise",
        "source": """
def normalise(seq_len, max_len=None):
    if max_len is not None:
        return torch.arange(seq_len, dtype=torch.float32) / max_len
    if seq_len == 1:
        return torch.zeros(1)
    return torch.linspace(0, 1, seq_len)
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
}
