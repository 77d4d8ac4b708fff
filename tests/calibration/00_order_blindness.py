"""Realistic wrong answers for exercise 00, each aimed at one of the chapter's misconceptions.

Each entry replaces one solution cell (``cell``, its nbgrader grade_id) with
what a student might plausibly write; ``breaks`` names the test cell(s) that
must lose their points. tests/test_grading.py submits every entry beside a
blank and a correct notebook and autogrades them with nbgrader. RIGHT_ANSWERS
are correct solutions written differently, which must score full marks.
"""

WRONG_ANSWERS = {
    # ---- exercise 1: attention_weights -----------------------------------------------------------
    "forgets the 1/sqrt(d) scaling": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    return torch.softmax(q @ k.T, dim=-1)
""",
    },
    "softmax over the queries instead of the keys": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0)
""",
    },
    "the lecture's exp / sum without subtracting the row maximum (nan on large scores)": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
""",
    },
    "k.T: right for one matrix, wrong once batch axes come first": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    d = q.shape[-1]
    return torch.softmax(q @ k.T / math.sqrt(d), dim=-1)
""",
    },
    "softmax over dim=1: the key axis for a matrix, the query axis for a batch": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    scores = torch.matmul(q, k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    return torch.softmax(scores, dim=1)
""",
    },
    "divides by d instead of sqrt(d)": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], dim=-1)
""",
    },
    "softmax in NumPy: right values, no gradient reaches q or k": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
import numpy as np

def attention_weights(q, k):
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).detach().numpy()
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True))
""",
    },
    "works in float32 whatever the input (float64 comes back as float32)": {
        "cell": "attention_weights",
        "breaks": ["test_attention_weights"],
        "source": """
def attention_weights(q, k):
    q, k = q.float(), k.float()
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
""",
    },
    # ---- exercise 2: self_attention --------------------------------------------------------------
    "mixes the values up with the inputs (weights @ x)": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k = x @ w_q, x @ w_k
    weights = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ x
""",
    },
    "scales by the width of x instead of the key width": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.T / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ v
""",
    },
    "scales by the width of the values (d_v) instead of the keys (d_k)": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1]), dim=-1)
    return weights @ v
""",
    },
    "returns (output, weights) like the library does": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights
""",
    },
    "k.T inline: breaks when x has a batch axis": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1) @ v
""",
    },
    "exp / sum without the row maximum: nan when the scores are large": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    e = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).exp()
    return (e / e.sum(-1, keepdim=True)) @ v
""",
    },
    "detaches the weights (attention then never trains W_Q, W_K)": {
        "cell": "self_attention",
        "breaks": ["test_self_attention"],
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    with torch.no_grad():
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v
""",
    },
    # ---- exercise 3: is_permutation_equivariant --------------------------------------------------
    "tests invariance instead of equivariance": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    return bool(torch.allclose(fn(x[perm]), fn(x), atol=1e-5))
""",
    },
    "compares the multisets of output rows (calls t.flip(0) equivariant)": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    a = torch.tensor(sorted(fn(x[perm]).tolist()))
    b = torch.tensor(sorted(fn(x).tolist()))
    return bool(torch.allclose(a, b, atol=1e-5))
""",
    },
    "compares the outputs sorted column by column": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    a = fn(x[perm]).sort(dim=0).values
    b = fn(x).sort(dim=0).values
    return bool(torch.allclose(a, b, atol=1e-5))
""",
    },
    "applies perm instead of its inverse to undo the shuffle (right only for swaps)": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    return bool(torch.allclose(fn(x[perm])[perm], fn(x), atol=1e-5))
""",
    },
    "exact equality: rounding makes an equivariant function fail": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    return torch.equal(fn(x[perm]), fn(x)[perm])
""",
    },
    "checks that every output row of fn(x[perm]) appears somewhere in fn(x)": {
        "cell": "is_permutation_equivariant",
        "breaks": ["test_is_permutation_equivariant"],
        "source": """
def is_permutation_equivariant(fn, x, perm):
    shuffled, original = fn(x[perm]), fn(x)
    for row in shuffled:
        if not any(torch.allclose(row, other, atol=1e-5) for other in original):
            return False
    return True
""",
    },
    # ---- exercise 4: order_blind_ceiling ---------------------------------------------------------
    "takes chance (1 / number of classes) for the ceiling": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    return 1 / len(set(labels.tolist()))
""",
    },
    "groups sentences by their ordered tokens (a bag that remembers order)": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(row), []).append(label)
    return sum(max(Counter(g).values()) for g in groups.values()) / len(labels)
""",
    },
    "turns each sentence into a set (a bag that forgets repeated tokens)": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(frozenset(row), []).append(label)
    return sum(max(Counter(g).values()) for g in groups.values()) / len(labels)
""",
    },
    "averages each bag's best share, ignoring how many sentences the bag holds": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    shares = [max(Counter(g).values()) / len(g) for g in groups.values()]
    return sum(shares) / len(shares)
""",
    },
    "counts one right answer per bag (number of bags / N)": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    bags = {tuple(sorted(row)) for row in tokens.tolist()}
    return len(bags) / len(labels)
""",
    },
    "1 / (number of labels in a bag), averaged over the bags": {
        "cell": "order_blind_ceiling",
        "breaks": ["test_order_blind_ceiling"],
        "source": """
def order_blind_ceiling(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), set()).add(label)
    return sum(1 / len(g) for g in groups.values()) / len(groups)
""",
    },
    # ---- exercise 5: order_blind_loss_floor ------------------------------------------------------
    "always ln 2, the lecture's number": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    return math.log(2)
""",
    },
    "splits the bet evenly over the labels a bag holds (ln of their number)": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    total = sum(len(g) * math.log(len(set(g))) for g in groups.values())
    return total / len(labels)
""",
    },
    "-ln of the accuracy ceiling (ln 2 on mirror pairs, but not in general)": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    best = sum(max(Counter(g).values()) for g in groups.values())
    return -math.log(best / len(labels))
""",
    },
    "entropy in bits (log2) instead of nats": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    total = 0.0
    for g in groups.values():
        for c in Counter(g).values():
            total -= c * math.log2(c / len(g))
    return total / len(labels)
""",
    },
    "averages the bags' entropies without weighting by their sizes": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    entropies = []
    for g in groups.values():
        shares = [c / len(g) for c in Counter(g).values()]
        entropies.append(-sum(s * math.log(s) for s in shares))
    return sum(entropies) / len(entropies)
""",
    },
    "turns each sentence into a set (forgets repeated tokens)": {
        "cell": "order_blind_loss_floor",
        "breaks": ["test_order_blind_loss_floor"],
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(frozenset(row), []).append(label)
    total = 0.0
    for g in groups.values():
        for c in Counter(g).values():
            total -= c * math.log(c / len(g))
    return total / len(labels)
""",
    },
}

RIGHT_ANSWERS = {
    "exercise 1: a stable softmax by hand, .mT, a print and a warning": {
        "cell": "attention_weights",
        "source": """
import warnings

def attention_weights(q, k):
    d = q.size(-1)
    scores = torch.matmul(q, k.mT) * d ** -0.5
    scores = scores - scores.amax(dim=-1, keepdim=True)     # stable: the largest score becomes 0
    e = torch.exp(scores)
    if q.dim() > 2:
        warnings.warn("batched input")
    print("attention_weights:", tuple(q.shape), tuple(k.shape))
    return e / e.sum(dim=-1, keepdim=True)
""",
    },
    "exercise 1: einsum and logsumexp": {
        "cell": "attention_weights",
        "source": """
def attention_weights(q, k):
    scores = torch.einsum("...id,...jd->...ij", q, k) / math.sqrt(q.shape[-1])
    return torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True))
""",
    },
    "exercise 2: reuses attention_weights, einsum for the values": {
        "cell": "self_attention",
        "source": """
def self_attention(x, w_q, w_k, w_v):
    weights = attention_weights(x @ w_q, x @ w_k)
    return torch.einsum("...ij,...jd->...id", weights, x @ w_v)
""",
    },
    "exercise 2: (weights @ x) @ w_v, by associativity": {
        "cell": "self_attention",
        "source": """
def self_attention(x, w_q, w_k, w_v):
    q = torch.matmul(x, w_q)
    k = torch.matmul(x, w_k)
    w = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
    return (w @ x) @ w_v
""",
    },
    "exercise 3: undo the shuffle with the inverse permutation, NumPy comparison": {
        "cell": "is_permutation_equivariant",
        "source": """
import numpy as np

def is_permutation_equivariant(fn, x, perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    unshuffled = fn(x[perm])[inverse]
    return bool(np.allclose(unshuffled.numpy(), fn(x).numpy(), rtol=0, atol=1e-5))
""",
    },
    "exercise 3: the largest gap, row by row in a loop": {
        "cell": "is_permutation_equivariant",
        "source": """
def is_permutation_equivariant(fn, x, perm):
    left, right = fn(x[torch.tensor(perm)]), fn(x)
    worst = 0.0
    for i, p in enumerate(perm):
        worst = max(worst, (left[i] - right[p]).abs().max().item())
    print("largest gap", worst)
    return worst <= 1e-5
""",
    },
    "exercise 4: torch.unique on the sorted rows": {
        "cell": "order_blind_ceiling",
        "source": """
def order_blind_ceiling(tokens, labels):
    bags = tokens.sort(dim=1).values
    _, bag_id = torch.unique(bags, dim=0, return_inverse=True)
    _, pair_id = torch.unique(torch.stack([bag_id, labels], dim=1), dim=0, return_inverse=True)
    best = {}
    for b, p in zip(bag_id.tolist(), pair_id.tolist()):
        best.setdefault(b, Counter())[p] += 1
    return float(sum(max(c.values()) for c in best.values()) / len(labels))
""",
    },
    "exercise 4: Counter of (bag, label) pairs": {
        "cell": "order_blind_ceiling",
        "source": """
def order_blind_ceiling(tokens, labels):
    pairs = Counter((tuple(sorted(r)), l) for r, l in zip(tokens.tolist(), labels.tolist()))
    best = {}
    for (bag, _), n in pairs.items():
        best[bag] = max(best.get(bag, 0), n)
    return sum(best.values()) / len(labels)
""",
    },
    "exercise 5: -mean log(share of the sentence's label in its bag), in float32 torch": {
        "cell": "order_blind_loss_floor",
        "source": """
def order_blind_loss_floor(tokens, labels):
    bags = [tuple(sorted(r)) for r in tokens.tolist()]
    pairs = Counter(zip(bags, labels.tolist()))
    sizes = Counter(bags)
    shares = torch.tensor([pairs[(b, l)] / sizes[b] for b, l in zip(bags, labels.tolist())],
                          dtype=torch.float32)
    return -shares.log().mean().item()
""",
    },
    "exercise 5: the entropy of each bag, weighted by its size": {
        "cell": "order_blind_loss_floor",
        "source": """
def order_blind_loss_floor(tokens, labels):
    groups = {}
    for row, label in zip(tokens.tolist(), labels.tolist()):
        groups.setdefault(tuple(sorted(row)), []).append(label)
    loss = 0.0
    for g in groups.values():
        p = torch.tensor(list(Counter(g).values()), dtype=torch.float64) / len(g)
        loss += len(g) * float(-(p * p.log()).sum())
    return loss / len(labels)
""",
    },
}
