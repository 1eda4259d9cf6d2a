"""/api/presets: the lesson presets (an override over the defaults, with its explanations and claims)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from ...engine import presets
from ...service.errors import NotFound

router = APIRouter(prefix="/presets", tags=["presets"])


def _one(name: str, full: bool) -> dict:
    p = presets.PRESETS[name]
    out = {
        "name": name,
        "title": p["title"],
        "title_es": p.get("title_es"),
        "en": p["en"],
        "es": p["es"],
        "override": p["config"],
        "look": p.get("look"),
        "try": p.get("try"),
        # a sweep lesson: POST /api/sweeps with {"base": override, **sweep}; null for a single run
        "sweep": p.get("sweep"),
        # the lesson's sentences as measurements: run-scope ones come back in summary.claims
        "claims": [c.public() for c in presets.claims(name)],
    }
    if full:
        out["config"] = presets.config(name).model_dump(mode="json")
    return out


@router.get("", summary="The lesson presets (override over the defaults, with explanations)")
def list_presets() -> dict:
    return {"presets": [_one(name, False) for name in presets.names()]}


@router.get("/{name}", summary="One lesson preset with its full configuration")
def get_preset(name: str = Path(..., max_length=100)) -> dict:
    if name not in presets.PRESETS:
        raise NotFound(f"unknown preset {name!r}; known: {', '.join(presets.names())}")
    return _one(name, True)
