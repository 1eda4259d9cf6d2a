"""Kept for imports written before the encoder moved to `nnplayground.jsonutil` (usable by the engine)."""

from ..jsonutil import dumps, dumps_bytes, loads_strict

__all__ = ["dumps", "dumps_bytes", "loads_strict"]
