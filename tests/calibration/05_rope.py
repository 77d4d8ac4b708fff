"""Realistic wrong answers for exercise 05, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points (see tests/test_grading.py).
"""

_INTERLEAVED = """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) {exponent})
    angles = (positions.to(torch.float64){shift})[:, None] * theta
    cos, sin = angles.cos(), angles.sin()
    a, b = x[:, {first}].double(), x[:, {second}].double()
    out = torch.empty(x.shape, dtype=torch.float64)
    out[:, {first}] = a * cos {sign_a} b * sin
    out[:, {second}] = a * sin {sign_b} b * cos
    return out.to(x.dtype)
"""


def _interleaved(exponent="/ d", shift="", first="0::2", second="1::2", sign_a="-", sign_b="+"):
    """The solution's rotation with one part changed (the defaults give the right answer)."""
    return _INTERLEAVED.format(exponent=exponent, shift=shift, first=first, second=second,
                               sign_a=sign_a, sign_b=sign_b)


_HALF = """
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    angles = {layout}
    x64 = x.double()
    rotated_half = {rotate}
    return (x64 * angles.cos() + rotated_half * angles.sin()).to(x.dtype)
"""


_PORT = """
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    freqs = torch.outer(positions.to(torch.float64), inv_freq)
    cos = freqs.cos().repeat_interleave(2, dim=-1)
    sin = freqs.sin().repeat_interleave(2, dim=-1)
    x64 = x.double()
    x1, x2 = x64.chunk(2, dim=-1)
    return (x64 * cos + torch.cat((-x2, x1), dim=-1) * sin).to(x.dtype)
"""


def _half(layout="torch.cat((angles, angles), dim=-1)",
          rotate="torch.cat((-x64[:, d // 2:], x64[:, : d // 2]), dim=-1)"):
    return _HALF.format(layout=layout, rotate=rotate)


_DECODE = """
def decode_step(q, k, v, cache_k, cache_v, position):
    where = torch.tensor([{where}])
    q_rot = {q_rot}
    k_rot = apply_rope(k[:, None, :], where)
    cache_k = {cache_k}
    cache_v = torch.cat((cache_v, {v_new}), dim=1)
    scores = q_rot @ cache_k.mT {scale}
    out = torch.softmax(scores, dim={dim}) @ cache_v
    return out.squeeze(1), cache_k, cache_v
"""


def _decode(where="position", q_rot="apply_rope(q[:, None, :], where)",
            cache_k="torch.cat((cache_k, k_rot), dim=1)",
            v_new="v[:, None, :]", scale="/ math.sqrt(q.shape[-1])", dim="-1"):
    return _DECODE.format(where=where, q_rot=q_rot, cache_k=cache_k, v_new=v_new,
                          scale=scale, dim=dim)


_BASE = """
import math
def smallest_base(seq_len, head_dim, pairs=1):
    return {body}
"""


def _base(body):
    return _BASE.format(body=body)


WRONG_ANSWERS = {
    # ---- exercise 1: interleaved RoPE by hand (3 points)
    "exponent i/d with i the pair index (frequencies fall too slowly)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved(exponent="/ 2 / d"),
    },
    "turns the wrong way (the transposed rotation)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved(sign_a="+", sign_b="-"),
    },
    "positions counted from 1": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved(shift=" + 1"),
    },
    "half-split pairs where interleaved ones were asked for": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved(first=":d // 2", second="d // 2:"),
    },
    "ignores the positions it is given (0, 1, 2, ... always)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved().replace("positions.to(torch.float64)",
                                         "torch.arange(x.shape[0], dtype=torch.float64)"),
    },
    "computes the angles in x's dtype (float16 angles are off by radians at position 1000)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    angles = positions.to(x.dtype)[:, None] * theta
    cos, sin = angles.cos(), angles.sin()
    out = torch.empty_like(x)
    out[:, 0::2] = x[:, 0::2] * cos - x[:, 1::2] * sin
    out[:, 1::2] = x[:, 0::2] * sin + x[:, 1::2] * cos
    return out
""",
    },
    "returns float64 whatever x's dtype (forgets to convert back)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved().replace("return out.to(x.dtype)", "return out"),
    },
    "float32 work and float32 result for every dtype": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": _interleaved().replace("torch.float64", "torch.float32")
                                .replace(".double()", ".float()")
                                .replace("return out.to(x.dtype)", "return out"),
    },
    "builds the result from Python numbers (the gradient never reaches x)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    rows = []
    for row, m in zip(x.tolist(), positions.tolist()):
        out = []
        for i in range(d // 2):
            angle = m * base ** (-2 * i / d)
            a, b = row[2 * i], row[2 * i + 1]
            out += [a * math.cos(angle) - b * math.sin(angle),
                    a * math.sin(angle) + b * math.cos(angle)]
        rows.append(out)
    return torch.tensor(rows, dtype=x.dtype)
""",
    },
    "rotates x in place (the caller's x changes)": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    cos, sin = angles.cos(), angles.sin()
    a, b = x[:, 0::2].double(), x[:, 1::2].double()
    x[:, 0::2] = (a * cos - b * sin).to(x.dtype)
    x[:, 1::2] = (a * sin + b * cos).to(x.dtype)
    return x.clone()
""",
    },
    "updates the even features first, then uses the updated ones for the odd": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    out = x.double().clone()
    out[:, 0::2] = out[:, 0::2] * angles.cos() - out[:, 1::2] * angles.sin()
    out[:, 1::2] = out[:, 0::2] * angles.sin() + out[:, 1::2] * angles.cos()
    return out.to(x.dtype)
""",
    },
    "calls course_lib's apply_rope instead of writing the interleaved rotation": {
        "cell": "rope_interleaved", "breaks": ["test_rope_interleaved"],
        "source": """
from course_lib import apply_rope
def rope_interleaved(x, positions, base=10000.0):
    return apply_rope(x, positions, base)
""",
    },
    # ---- exercise 2: fix the half-split port (2 points)
    "rotate_half with the signs swapped, [x2 ‖ -x1]": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half(rotate="torch.cat((x64[:, d // 2:], -x64[:, : d // 2]), dim=-1)"),
    },
    ("the port handed in unchanged: angles repeated in place (θ0, θ0, θ1, "
     "θ1, ...) instead of [θ ‖ θ]"): {
        "cell": "rope_half", "breaks": ["test_rope_half"], "source": _PORT,
    },
    "the port with only cos fixed (sin still laid out for interleaved pairs)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _PORT.replace("cos = freqs.cos().repeat_interleave(2, dim=-1)",
                                "cos = torch.cat((freqs, freqs), dim=-1).cos()"),
    },
    ("reorders x into interleaved pairs and rotates them, but never puts the features back in "
     "place"): {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": """
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    # 0, d/2, 1, d/2 + 1, ...
    order = torch.stack((torch.arange(d // 2), torch.arange(d // 2, d)), dim=-1).flatten()
    y = x.double()[:, order]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = positions.to(torch.float64)[:, None] * theta
    a, b = y[:, 0::2], y[:, 1::2]
    out = torch.stack((a * angles.cos() - b * angles.sin(),
                       a * angles.sin() + b * angles.cos()), dim=-1)
    return out.flatten(-2).to(x.dtype)
""",
    },
    "the interleaved rotation again (neighbouring pairs)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half(rotate="torch.stack((-x64[:, 1::2], x64[:, 0::2]), dim=-1).flatten(-2)",
                        layout="angles.repeat_interleave(2, dim=-1)"),
    },
    "pairs feature i with feature d - 1 - i (mirror instead of shift)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half(rotate="torch.cat((-x64[:, d // 2:].flip(-1), "
                               "x64[:, : d // 2].flip(-1)), dim=-1)"),
    },
    "HF's rope in x's dtype, angles included (float16 positions)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": """
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    inv_freq = (1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float32) / d)).to(x.dtype)
    freqs = positions.to(x.dtype)[:, None] * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    rotated = torch.cat((-x[:, d // 2:], x[:, : d // 2]), dim=-1)
    return x * emb.cos() + rotated * emb.sin()
""",
    },
    "detaches x before rotating (no gradient)": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": _half().replace("x64 = x.double()", "x64 = x.detach().double()"),
    },
    "calls course_lib's apply_rope with layout half instead of writing the rotation": {
        "cell": "rope_half", "breaks": ["test_rope_half"],
        "source": """
def rope_half(x, positions, base=10000.0):
    from course_lib import apply_rope
    return apply_rope(x, positions, base, layout="half_split")
""",
    },
    # ---- exercise 3: decoding with a KV cache (3 points)
    "rotates the whole cache again by the new position (cached keys turned twice)": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": _decode(cache_k="apply_rope(torch.cat((cache_k, k[:, None, :]), dim=1), "
                                  "where.expand(cache_k.shape[1] + 1))"),
    },
    "rotates the new token by the cache length instead of its position": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": _decode(where="cache_k.shape[1]"),
    },
    "apply_rope's default positions: the new query and key are turned by 0": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": _decode(q_rot="apply_rope(q[:, None, :])").replace(
            "k_rot = apply_rope(k[:, None, :], where)", "k_rot = apply_rope(k[:, None, :])"),
    },
    "caches unrotated keys and rotates them all by 0..n at every step": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    cache_k = torch.cat((cache_k, k[:, None, :]), dim=1)
    cache_v = torch.cat((cache_v, v[:, None, :]), dim=1)
    n = cache_k.shape[1]
    q_rot = apply_rope(q[:, None, :], torch.tensor([n - 1]))
    scores = q_rot @ apply_rope(cache_k).mT / math.sqrt(q.shape[-1])
    return (torch.softmax(scores, dim=-1) @ cache_v).squeeze(1), cache_k, cache_v
""",
    },
    "caches unrotated keys (right outputs, but every step re-rotates the whole cache)": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    n = cache_k.shape[1]
    positions = torch.arange(position - n, position + 1)
    cache_k = torch.cat((cache_k, k[:, None, :]), dim=1)
    cache_v = torch.cat((cache_v, v[:, None, :]), dim=1)
    q_rot = apply_rope(q[:, None, :], torch.tensor([position]))
    scores = q_rot @ apply_rope(cache_k, positions).mT / math.sqrt(q.shape[-1])
    return (torch.softmax(scores, dim=-1) @ cache_v).squeeze(1), cache_k, cache_v
""",
    },
    "scores with the rotated new key but caches it unrotated": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    where = torch.tensor([position])
    q_rot = apply_rope(q[:, None, :], where)
    keys = torch.cat((cache_k, apply_rope(k[:, None, :], where)), dim=1)
    cache_v = torch.cat((cache_v, v[:, None, :]), dim=1)
    out = torch.softmax(q_rot @ keys.mT / math.sqrt(q.shape[-1]), dim=-1) @ cache_v
    return out.squeeze(1), torch.cat((cache_k, k[:, None, :]), dim=1), cache_v
""",
    },
    "rotates the values as well": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": _decode(v_new="apply_rope(v[:, None, :], where)"),
    },
    "forgets the 1/sqrt(d) scaling": {
        "cell": "decode_step", "breaks": ["test_decode_step"], "source": _decode(scale=""),
    },
    "softmax over the heads instead of the keys": {
        "cell": "decode_step", "breaks": ["test_decode_step"], "source": _decode(dim="0"),
    },
    "attends to the cache before appending the new token (the token cannot see itself)": {
        "cell": "decode_step", "breaks": ["test_decode_step"],
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    where = torch.tensor([position])
    q_rot = apply_rope(q[:, None, :], where)
    scores = q_rot @ cache_k.mT / math.sqrt(q.shape[-1])
    out = torch.nan_to_num(torch.softmax(scores, dim=-1) @ cache_v).squeeze(1)
    cache_k = torch.cat((cache_k, apply_rope(k[:, None, :], where)), dim=1)
    cache_v = torch.cat((cache_v, v[:, None, :]), dim=1)
    return out, cache_k, cache_v
""",
    },
    # ---- exercise 4: the smallest base (1 point for pairs = 1, 1 for pairs > 1)
    "largest offset seq_len instead of seq_len - 1": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("(seq_len / (2 * math.pi)) ** (head_dim / (head_dim - 2 * pairs))"),
    },
    "the slowest pair taken as θ = 1/base (pair index d/2 instead of d/2 - 1)": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("((seq_len - 1) / (2 * math.pi)) ** (head_dim / "
                        "(head_dim - 2 * pairs + 2))"),
    },
    "a full turn of 1 instead of 2π (frequency in turns, not radians)": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("(seq_len - 1) ** (head_dim / (head_dim - 2 * pairs))"),
    },
    "half a turn (π) instead of a full turn": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("((seq_len - 1) / math.pi) ** (head_dim / (head_dim - 2 * pairs))"),
    },
    "only the slowest pair, whatever `pairs` says": {
        "cell": "smallest_base", "breaks": ["test_smallest_base_pairs"],
        "source": _base("((seq_len - 1) / (2 * math.pi)) ** (head_dim / (head_dim - 2))"),
    },
    "pair index counted from the fast end (i = pairs instead of d/2 - pairs)": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("((seq_len - 1) / (2 * math.pi)) ** (head_dim / (2 * pairs))"),
    },
    "the group's turns added up must stay within one turn (instead of each pair's)": {
        "cell": "smallest_base", "breaks": ["test_smallest_base_pairs"],
        "source": """
import math
def smallest_base(seq_len, head_dim, pairs=1):
    def total_turn(base):
        return sum((seq_len - 1) * base ** (-2 * i / head_dim)
                   for i in range(head_dim // 2 - pairs, head_dim // 2))
    low, high = 1.0, 1e300
    for _ in range(400):
        mid = math.sqrt(low * high)
        if total_turn(mid) > 2 * math.pi:
            low = mid
        else:
            high = mid
    return high
""",
    },
    "rounded up to a whole base": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("math.ceil(((seq_len - 1) / (2 * math.pi))"
                        " ** (head_dim / (head_dim - 2 * pairs)))"),
    },
    "exponent 2i/d where d/(2i) is needed (the base solved the wrong way round)": {
        "cell": "smallest_base", "breaks": ["test_smallest_base", "test_smallest_base_pairs"],
        "source": _base("((seq_len - 1) / (2 * math.pi)) ** ((head_dim - 2 * pairs) / head_dim)"),
    },
}

RIGHT_ANSWERS = {
    "pairs as complex numbers, as Meta's code does (float32 work)": {
        "cell": "rope_interleaved",
        "source": """
def rope_interleaved(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = 1.0 / base ** (torch.arange(0, d, 2).float() / d)
    angles = positions.float()[:, None] * theta
    pairs = torch.view_as_complex(x.float().reshape(x.shape[0], d // 2, 2).contiguous())
    out = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)
    return out.to(x.dtype)
""",
    },
    "a loop over pairs with torch operations, printing and warning as it goes": {
        "cell": "rope_half",
        "source": """
import warnings
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    if x.dtype in (torch.float16, torch.bfloat16):
        warnings.warn("half precision: rotating in float32")
    work = x.float()
    firsts, seconds = [], []
    for i in range(d // 2):
        angle = positions.float() * base ** (-2 * i / d)
        a, b = work[:, i], work[:, i + d // 2]
        firsts.append(a * torch.cos(angle) - b * torch.sin(angle))
        seconds.append(a * torch.sin(angle) + b * torch.cos(angle))
    print("rotated", tuple(x.shape))
    return torch.stack(firsts + seconds, dim=-1).to(x.dtype)
""",
    },
    "HF's code: cos/sin in float32, the products in x's dtype": {
        "cell": "rope_half",
        "source": """
def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)
def rope_half(x, positions, base=10000.0):
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d)
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin
""",
    },
    "the port fixed with .repeat(1, 2), which tiles [θ ‖ θ]": {
        "cell": "rope_half",
        "source": _PORT.replace("repeat_interleave(2, dim=-1)", "repeat(1, 2)"),
    },
    "each half written out: [x1 cos − x2 sin ‖ x2 cos + x1 sin], in float32": {
        "cell": "rope_half",
        "source": """
def rope_half(x, positions, base=10000.0):
    half = x.shape[-1] // 2
    theta = base ** (-torch.arange(half, dtype=torch.float32) * 2 / x.shape[-1])
    angle = positions.float().unsqueeze(-1) * theta
    x1, x2 = x[:, :half].float(), x[:, half:].float()
    out = torch.cat((x1 * angle.cos() - x2 * angle.sin(),
                     x2 * angle.cos() + x1 * angle.sin()), dim=-1)
    return out.to(x.dtype)
""",
    },
    "PyTorch's scaled_dot_product_attention on the rotated query and cache": {
        "cell": "decode_step",
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    where = torch.tensor([position])
    new_k = torch.cat([cache_k, apply_rope(k.unsqueeze(-2), where)], dim=-2)
    new_v = torch.cat([cache_v, v.unsqueeze(-2)], dim=-2)
    out = torch.nn.functional.scaled_dot_product_attention(apply_rope(q.unsqueeze(-2), where),
                                                           new_k, new_v)
    return out[:, 0], new_k, new_v
""",
    },
    "a loop over heads, rotating in float64": {
        "cell": "decode_step",
        "source": """
def decode_step(q, k, v, cache_k, cache_v, position):
    outs, keys, values = [], [], []
    for h in range(q.shape[0]):
        p = torch.tensor([position])
        q_h = apply_rope(q[h : h + 1].double(), p)[0]
        k_h = apply_rope(k[h : h + 1].double(), p).float()
        keys_h = torch.cat((cache_k[h], k_h))
        values_h = torch.cat((cache_v[h], v[h : h + 1]))
        weights = torch.softmax(keys_h.double() @ q_h / q.shape[-1] ** 0.5, dim=0)
        outs.append((weights @ values_h.double()).float())
        keys.append(keys_h)
        values.append(values_h)
    return torch.stack(outs), torch.stack(keys), torch.stack(values)
""",
    },
    "found by bisection on the number of wrapping pairs, with numpy": {
        "cell": "smallest_base",
        "source": """
import numpy as np
def smallest_base(seq_len, head_dim, pairs=1):
    def wraps(base):
        i = np.arange(head_dim // 2 - pairs, head_dim // 2)
        return bool(((seq_len - 1) * base ** (-2.0 * i / head_dim) > 2 * np.pi).any())
    low, high = 1.0, 1e300
    for _ in range(200):
        mid = math.sqrt(low * high)
        if wraps(mid):
            low = mid
        else:
            high = mid
    return float(high)
""",
    },
    "through logarithms, as a 0-d tensor": {
        "cell": "smallest_base",
        "source": """
def smallest_base(seq_len, head_dim, pairs=1):
    i = head_dim // 2 - pairs
    log_b = (head_dim / (2 * i)) * (torch.log(torch.tensor(seq_len - 1.0, dtype=torch.float64))
                                    - math.log(2 * math.pi))
    return log_b.exp()
""",
    },
}
