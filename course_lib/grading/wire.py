"""Values across the sandbox wall: data only, never pickles.

The grader and the sandboxed student process talk in length-prefixed JSON
frames. A value is a JSON scalar (None, bool, int, float, str) or a one-key
object naming what it is:

    {"tensor": {"dtype": "float32", "shape": [2, 3], "data": "<base64 of the raw bytes>"}}
    {"ndarray": {...same...}}     {"tuple": [...]}   {"list": [...]}   {"dict": [[key, value], ...]}
    {"complex": [re, im]}         {"dtype": "float64"}                 {"device": "cpu"}
    {"callback": 3}   a grader-side function the student's code may call (grader -> sandbox only)
    {"handle": {"id": 7, "type": "MyModule"}}
                      a student object that is not data (sandbox -> grader only)

Decoding builds fresh tensors from bytes: nothing a student sends can run code
in the grader. Sizes are bounded (frame size, nesting depth, element count).
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import struct

MAX_FRAME = 64 * 2**20          # bytes in one message
MAX_DEPTH = 32                  # nesting of lists/tuples/dicts
MAX_INT_BITS = 256              # Python ints wider than this are not plain data

_TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                 "uint8", "int8", "int16", "int32", "int64", "bool")


class WireError(Exception):
    """A value that cannot cross the sandbox wall (too big, too deep, or not data).

    Not a ValueError on purpose: a test that expects the student's code to raise ValueError must not
    mistake "the answer could not be read" for it."""


# --- framing ------------------------------------------------------------------
def write_frame(stream, message: dict) -> None:
    """Write one JSON message, prefixed with its length (4 bytes, big-endian)."""
    body = json.dumps(message, allow_nan=True, ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise WireError(f"message of {len(body)} bytes is larger than the limit of {MAX_FRAME}")
    stream.write(struct.pack(">I", len(body)) + body)
    stream.flush()


def parse_frame(body: bytes) -> dict:
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


def frame_length(header: bytes) -> int:
    (length,) = struct.unpack(">I", header)
    if length > MAX_FRAME:
        raise WireError(f"message of {length} bytes is larger than the limit of {MAX_FRAME}")
    return length


# --- values -------------------------------------------------------------------
def _array_fields(t) -> dict:
    """Raw bytes of a CPU tensor. Complex -> (…, 2) real, bfloat16 -> int16 bits, bool -> uint8."""
    import torch

    dtype = str(t.dtype).removeprefix("torch.")
    if dtype not in _TORCH_DTYPES:
        raise WireError(f"tensors of dtype {t.dtype} cannot be graded")
    t = t.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.to("cpu").contiguous()
    if t.is_complex():
        t = torch.view_as_real(t).contiguous()
    elif t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    data = t.numpy().tobytes()
    return {
        "dtype": dtype,
        "shape": list(t.shape if not dtype.startswith("complex") else t.shape[:-1]),
        "data": base64.b64encode(data).decode("ascii"),
    }


def encode(value, *, depth: int = 0, on_other=None):
    """``value`` as JSON-ready data. ``on_other(value)`` encodes anything else (callbacks, handles)
    or raises."""
    if depth > MAX_DEPTH:
        raise WireError(f"values nested more than {MAX_DEPTH} deep cannot be graded")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise WireError(f"an integer of {value.bit_length()} bits is too large to grade")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    if isinstance(value, numbers.Real) and type(value).__module__ in (
        "fractions",
        "decimal",
        "numbers",
    ):
        # Fraction(1, 3), Decimal("0.5"): numbers, sent as floats
        return float(value)
    import torch

    if isinstance(value, torch.Tensor):
        return {"tensor": _array_fields(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, torch.Size):
        return {"tuple": [int(v) for v in value]}
    np = _numpy()
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise WireError("numpy arrays of Python objects cannot be graded")
            return {"ndarray": _array_fields(torch.from_numpy(value.copy()))}
        if isinstance(value, np.generic):
            return encode(value.item(), depth=depth + 1, on_other=on_other)
    if isinstance(value, (list, tuple)):
        key = "list" if isinstance(value, list) else "tuple"
        return {key: [encode(v, depth=depth + 1, on_other=on_other) for v in value]}
    if isinstance(value, dict):
        return {
            "dict": [
                [
                    encode(k, depth=depth + 1, on_other=on_other),
                    encode(v, depth=depth + 1, on_other=on_other),
                ]
                for k, v in value.items()
            ]
        }
    if on_other is not None:
        return on_other(value)
    raise WireError(
        f"a value of type {type(value).__name__} cannot be graded (expected tensors, numbers, "
        "strings, lists, tuples or dicts)"
    )


def _numpy():
    try:
        import numpy
    except ImportError:          # pragma: no cover - numpy comes with the course
        return None
    return numpy


def _decode_array(fields: dict):
    import torch

    dtype_name = fields.get("dtype")
    if dtype_name not in _TORCH_DTYPES:
        raise WireError(f"unknown dtype {dtype_name!r}")
    shape = fields.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise WireError("a tensor shape must be a list of non-negative integers")
    data = base64.b64decode(fields.get("data", ""), validate=True)
    wire_dtype = {"bfloat16": torch.int16, "bool": torch.uint8, "complex64": torch.float32,
                  "complex128": torch.float64}.get(dtype_name, getattr(torch, dtype_name))
    wire_shape = shape + [2] if dtype_name.startswith("complex") else shape
    numel = math.prod(wire_shape)
    itemsize = torch.empty((), dtype=wire_dtype).element_size()
    if numel * itemsize != len(data):
        raise WireError(
            f"a tensor of shape {shape} and dtype {dtype_name} needs {numel * itemsize} bytes, "
            f"got {len(data)}"
        )
    flat = (
        torch.frombuffer(bytearray(data), dtype=wire_dtype)
        if data
        else torch.empty(0, dtype=wire_dtype)
    )
    t = flat.reshape(wire_shape).clone()
    if dtype_name == "bfloat16":
        t = t.view(torch.bfloat16)
    elif dtype_name == "bool":
        t = t.to(torch.bool)
    elif dtype_name.startswith("complex"):
        t = torch.view_as_complex(t.contiguous())
    return t


def decode(data, *, depth: int = 0, on_tagged=None):
    """Inverse of ``encode``. ``on_tagged(tag, body)`` decodes the tags this side accepts
    (callbacks, handles)."""
    if depth > MAX_DEPTH:
        raise WireError(f"values nested more than {MAX_DEPTH} deep cannot be graded")
    if data is None or isinstance(data, (bool, str, float)):
        return data
    if isinstance(data, int):
        if data.bit_length() > MAX_INT_BITS:
            raise WireError("integer too large")
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise WireError("malformed value")
    ((tag, body),) = data.items()
    if tag in ("list", "tuple"):
        if not isinstance(body, list):
            raise WireError("malformed sequence")
        items = [decode(v, depth=depth + 1, on_tagged=on_tagged) for v in body]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
            raise WireError("malformed dict")
        out = {}
        for k, v in body:
            key = decode(k, depth=depth + 1, on_tagged=on_tagged)
            try:
                hash(key)
            except TypeError as error:
                raise WireError("a dict key must be hashable") from error
            out[key] = decode(v, depth=depth + 1, on_tagged=on_tagged)
        return out
    if tag == "complex":
        if not (
            isinstance(body, list)
            and len(body) == 2
            and all(isinstance(v, (int, float)) for v in body)
        ):
            raise WireError("malformed complex number")
        return complex(body[0], body[1])
    if tag == "tensor":
        return _decode_array(body)
    if tag == "ndarray":
        return _decode_array(body).numpy()
    if tag == "dtype":
        import torch

        if body not in _TORCH_DTYPES:
            raise WireError(f"unknown dtype {body!r}")
        return getattr(torch, body)
    if tag == "device":
        return str(body)
    if on_tagged is not None:
        return on_tagged(tag, body)
    raise WireError(f"unexpected value tag {tag!r}")
