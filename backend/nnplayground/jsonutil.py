"""The one JSON encoder of every output path (websocket frames, REST bodies, the CLI's events file,
exports, classroom fan-out): compact and strict. JSON has no NaN or Infinity, so a non-finite float
becomes null, which is what docs/protocol.md promises (a diverged loss is null). orjson (a dependency:
faster than the standard library on the long float lists of surfaces) encodes; the standard library
takes what orjson refuses (integers beyond 64 bits, non-string keys).

It lives at the top of the package, importing nothing of ours, so that the engine, the CLI and the
service all use the same function."""

from __future__ import annotations

import json
import math

import orjson


def _clean(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def dumps_bytes(obj) -> bytes:
    """`obj` as compact UTF-8 JSON; NaN and ±Infinity anywhere in it are written as null.
    Raises TypeError for values JSON cannot represent (objects, bytes)."""
    try:
        return orjson.dumps(obj)  # NaN and infinities are written as null
    except TypeError:
        pass  # e.g. integers beyond 64 bits or non-string keys: the standard library copes
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except ValueError:
        text = json.dumps(_clean(obj), separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.encode()


def dumps(obj) -> str:
    """`dumps_bytes` as text."""
    return dumps_bytes(obj).decode()


def raw_json(text: str | bytes):
    """Already-encoded JSON (a stored record, a packed event) to embed as is in what `dumps` writes, as an
    orjson.Fragment: the text is neither parsed nor encoded again. It must be valid, strict JSON (every text
    stored or packed here came from `dumps`)."""
    return orjson.Fragment(text)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str | bytes):
    """Parse JSON as the standard defines it: the NaN / Infinity tokens the standard library would
    accept are a ValueError."""
    return json.loads(text, parse_constant=_refuse_constant)
