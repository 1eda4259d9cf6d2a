"""Compact, strict JSON: no NaN or Infinity (not JSON), which become null. orjson when installed
(several times faster on the long float lists of surfaces), the standard library otherwise."""

from __future__ import annotations

import json
import math

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, this keeps a bare install working
    orjson = None


def _clean(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj) -> str:
    if orjson is not None:
        try:
            return orjson.dumps(obj).decode()  # NaN and infinities are written as null
        except TypeError:
            pass  # e.g. integers beyond 64 bits or non-string keys: the standard library copes
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_clean(obj), separators=(",", ":"), allow_nan=False)
