"""Realistic wrong answers for exercise 06, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_BUCKET = """
def t5_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = {n}
    if bidirectional:
        after = ({after}).long() * n
        distance = relative_position.abs()
    else:
        after = torch.zeros_like(relative_position)
        distance = {causal_distance}
    max_exact = {max_exact}
    log_part = ({log_part} * ({scale})){to_int}
    large = {large}
    return after + torch.where(distance < max_exact, distance, large)
"""


def _bucket(n="num_buckets // 2 if bidirectional else num_buckets",
            after="relative_position > 0",
            causal_distance="(-relative_position).clamp(min=0)",
            max_exact="n // 2",
            log_part="torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact)",
            to_int=".long()",
            large="(max_exact + log_part).clamp(max=n - 1)",
            scale="n - max_exact"):
    """The solution with one part changed (the defaults give the right answer)."""
    return _BUCKET.format(n=n, after=after, causal_distance=causal_distance, max_exact=max_exact,
                          log_part=log_part, to_int=to_int, large=large, scale=scale)


_SLOPES = """
def alibi_slopes_by_hand(num_heads):
    def ladder(n):
        return [2 ** (-8 * (h + {first}) / n) for h in range(n)]

    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = ladder(closest) + {rest}
    return torch.tensor({result}, dtype={dtype})
"""


def _slopes(first="1", rest="ladder(2 * closest)[0::2][: num_heads - closest]", result="slopes",
            dtype="torch.float32"):
    return _SLOPES.format(first=first, rest=rest, result=result, dtype=dtype)


_BIAS = """
def t5_bias(weights, seq_len, bidirectional=True, num_buckets=32, max_distance=128):
    positions = torch.arange({length})
    relative = {relative}
    buckets = t5_relative_position_bucket(relative, {direction}, num_buckets, max_distance)
    return {table}[buckets].permute({order})
"""


def _bias(length="seq_len", relative="positions[None, :] - positions[:, None]",
          direction="bidirectional", table="weights", order="2, 0, 1"):
    return _BIAS.format(length=length, relative=relative, direction=direction, table=table,
                        order=order)


_TRAINED = """
def trained_buckets(train_len, bidirectional=True, num_buckets=32, max_distance=128):
    low = {low}
    high = {high}
    offsets = torch.arange(low, high + 1)
    buckets = t5_relative_position_bucket(offsets, {direction}, num_buckets, max_distance)
    return {result}
"""


def _trained(low="-(train_len - 1)", high="train_len - 1 if bidirectional else 0",
             direction="bidirectional", result="sorted(set(buckets.tolist()))"):
    return _TRAINED.format(low=low, high=high, direction=direction, result=result)


WRONG_ANSWERS = {
    # ---- exercise 1: T5's bucket by hand (3 points)
    "log of the distance itself, not of distance / max_exact": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(log_part="torch.log(distance.float().clamp(min=1)) "
                                   "/ math.log(max_distance)"),
    },
    "bidirectional without halving the buckets (both directions overlap)": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(n="num_buckets"),
    },
    "left and right swapped: keys before the query take the second half": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(after="relative_position < 0"),
    },
    "no clamp: distances past max_distance run into buckets that do not exist": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(large="max_exact + log_part"),
    },
    "decoder counts keys after the query too (|offset|)": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(causal_distance="relative_position.abs()"),
    },
    "rounds the log position instead of truncating it": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(to_int=".round().long()"),
    },
    "buckets as plain clipping (Shaw): every distance exact up to the last bucket": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(max_exact="n", large="torch.full_like(distance, n - 1)"),
    },
    "the last bucket is n, not n − 1 (the clamp one too high)": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(large="(max_exact + log_part).clamp(max=n)"),
    },
    "the log-spaced region one bucket short (scaled by n − max_exact − 1)": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(scale="n - max_exact - 1"),
    },
    "half the buckets in a decoder too (halving applied to both directions)": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(n="num_buckets // 2"),
    },
    "offset 0 (the query itself) put in the keys-after half": {
        "cell": "t5_bucket", "breaks": ["test_t5_bucket"],
        "source": _bucket(after="relative_position >= 0"),
    },
    # ---- exercise 2: ALiBi's slopes by hand (3 points)
    "one geometric ladder 2^(-8h/n) for any head count": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": """
def alibi_slopes_by_hand(num_heads):
    return torch.tensor([2 ** (-8 * h / num_heads) for h in range(1, num_heads + 1)],
                        dtype=torch.float32)
""",
    },
    "the extra heads take the next ladder's first slopes, not every other one": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": _slopes(rest="ladder(2 * closest)[: num_heads - closest]"),
    },
    "every other slope of the next ladder, starting from its second": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": _slopes(rest="ladder(2 * closest)[1::2][: num_heads - closest]"),
    },
    "the ladder of the next power of two, cut to num_heads": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": """
def alibi_slopes_by_hand(num_heads):
    n = 2 ** math.ceil(math.log2(num_heads))
    return torch.tensor([2 ** (-8 * h / n) for h in range(1, n + 1)][:num_heads],
                        dtype=torch.float32)
""",
    },
    "sorted so the list falls monotonically (the heads' order is part of the answer)": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": _slopes(result="sorted(slopes, reverse=True)"),
    },
    "the ladder starts at 2^0 = 1 (exponent h, not h + 1)": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": _slopes(first="0"),
    },
    "float64 slopes": {
        "cell": "alibi_slopes_by_hand", "breaks": ["test_alibi_slopes_by_hand"],
        "source": _slopes(dtype="torch.float64"),
    },
    # ---- exercise 3: the T5 bias port (2 points)
    "the port unchanged: query − key, left and right swapped": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(relative="positions[:, None] - positions[None, :]"),
    },
    "|j − i|: a bias that cannot tell left from right": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(relative="(positions[None, :] - positions[:, None]).abs()"),
    },
    "right offsets, but queries and keys transposed at the end": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(order="2, 1, 0"),
    },
    "always bidirectional buckets": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(direction="True"),
    },
    "a float64 bias whatever the table's dtype": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(table="weights.double()"),
    },
    "a new tensor from the table's values (no gradient reaches the table)": {
        "cell": "t5_bias", "breaks": ["test_t5_bias"],
        "source": _bias(table="torch.tensor(weights.tolist(), dtype=weights.dtype)"),
    },
    # ---- exercise 4: which buckets does training reach? (2 points)
    "only keys after the query (offsets 0 .. train_len − 1)": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(low="0", high="train_len - 1"),
    },
    "offsets up to ±train_len (one too far)": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(low="-train_len", high="train_len if bidirectional else 0"),
    },
    "only keys before the query, in both directions": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(high="0"),
    },
    "bidirectional buckets for the decoder too": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(direction="True"),
    },
    "how many buckets, not which": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(result="len(set(buckets.tolist()))"),
    },
    "a list of 0-d tensors, not of ints": {
        "cell": "trained_buckets", "breaks": ["test_trained_buckets"],
        "source": _trained(result="list(torch.unique(buckets))"),
    },
}

RIGHT_ANSWERS = {
    "t5_bucket one offset at a time, in float32 as T5": {
        "cell": "t5_bucket",
        "source": """
def t5_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = num_buckets // 2 if bidirectional else num_buckets
    max_exact = n // 2
    out = torch.empty_like(relative_position)
    flat_in, flat_out = relative_position.reshape(-1), out.view(-1)
    for index in range(flat_in.numel()):
        offset = int(flat_in[index])
        bucket = n if bidirectional and offset > 0 else 0
        r = abs(offset) if bidirectional else max(-offset, 0)
        if r < max_exact:
            bucket += r
        else:
            ratio = (torch.log(torch.tensor(float(r)) / max_exact)
                     / math.log(max_distance / max_exact))
            bucket += min(max_exact + int(ratio * (n - max_exact)), n - 1)
        flat_out[index] = bucket
    return out
""",
    },
    "t5_bucket with numpy inside, in float64, warning about far offsets": {
        "cell": "t5_bucket",
        "source": """
import warnings

import numpy as np

def t5_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    rel = relative_position.numpy()
    n = num_buckets // 2 if bidirectional else num_buckets
    exact = n // 2
    if bidirectional:
        base, dist = np.where(rel > 0, n, 0), np.abs(rel)
    else:
        base, dist = np.zeros_like(rel), np.maximum(-rel, 0)
    if (dist > max_distance).any():
        warnings.warn("some offsets lie past max_distance: they share the last bucket")
    with np.errstate(divide="ignore"):
        far = exact + (np.log(dist / exact) / np.log(max_distance / exact) * (n - exact))
    far = np.minimum(np.nan_to_num(far, neginf=0).astype(np.int64), n - 1)
    return torch.from_numpy(np.asarray(base + np.where(dist < exact, dist, far))).long()
""",
    },
    "ALiBi slopes as torch powers, computed in float64": {
        "cell": "alibi_slopes_by_hand",
        "source": """
def alibi_slopes_by_hand(num_heads):
    closest = 2 ** int(math.log2(num_heads))
    first = 2.0 ** (-8.0 * torch.arange(1, closest + 1, dtype=torch.float64) / closest)
    extra = 2.0 ** (-8.0 * torch.arange(1, 2 * (num_heads - closest) + 1, 2, dtype=torch.float64)
                    / (2 * closest))
    return torch.cat((first, extra)).float()
""",
    },
    "ALiBi slopes with the paper's recursive get_slopes": {
        "cell": "alibi_slopes_by_hand",
        "source": """
def alibi_slopes_by_hand(num_heads):
    def get_slopes(n):
        def get_slopes_power_of_2(n):
            start = 2 ** (-2 ** -(math.log2(n) - 3))
            ratio = start
            return [start * ratio ** i for i in range(n)]

        if math.log2(n).is_integer():
            return get_slopes_power_of_2(n)
        closest_power_of_2 = 2 ** math.floor(math.log2(n))
        return (get_slopes_power_of_2(closest_power_of_2)
                + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])

    return torch.tensor(get_slopes(num_heads))
""",
    },
    "t5_bias through F.embedding, then a transpose": {
        "cell": "t5_bias",
        "source": """
import torch.nn.functional as F

def t5_bias(weights, seq_len, bidirectional=True, num_buckets=32, max_distance=128):
    # the offset is key − query (j − i), not query − key
    query = torch.arange(seq_len).unsqueeze(1)
    key = torch.arange(seq_len).unsqueeze(0)
    buckets = t5_relative_position_bucket(key - query, bidirectional=bidirectional,
                                          num_buckets=num_buckets, max_distance=max_distance)
    return F.embedding(buckets, weights).movedim(-1, 0)
""",
    },
    "trained_buckets by looping over every query and key": {
        "cell": "trained_buckets",
        "source": """
def trained_buckets(train_len, bidirectional=True, num_buckets=32, max_distance=128):
    seen = set()
    for i in range(train_len):
        for j in range(train_len):
            if not bidirectional and j > i:
                continue
            offset = torch.tensor(j - i)
            seen.add(int(t5_relative_position_bucket(offset, bidirectional, num_buckets,
                                                     max_distance)))
    print(f"{len(seen)} buckets reached")
    return sorted(seen)
""",
    },
    "trained_buckets in closed form: every bucket up to the farthest distance's": {
        "cell": "trained_buckets",
        "source": """
def trained_buckets(train_len, bidirectional=True, num_buckets=32, max_distance=128):
    # a bucket grows by at most one per step of distance, so every bucket up to the farthest is hit
    far = int(t5_relative_position_bucket(torch.tensor(1 - train_len), bidirectional,
                                          num_buckets, max_distance))
    before = list(range(far + 1))
    if not bidirectional:
        return before
    return before + [num_buckets // 2 + b for b in range(1, far + 1)]
""",
    },
}
