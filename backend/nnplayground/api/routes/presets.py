from __future__ import annotations

from fastapi import APIRouter, Path

from ...engine import presets
from ...service.manager import ApiError

router = APIRouter(tags=["presets"])


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
        # the lesson's sentences as measurements: run-scope ones come back in summary.claims
        "claims": [c.public() for c in presets.claims(name)],
    }
    if full:
        out["config"] = presets.config(name).model_dump(mode="json")
    return out


@router.get("/presets", summary="The lesson presets (override over the defaults, with explanations)")
def list_presets() -> dict:
    return {"presets": [_one(name, False) for name in presets.names()]}


@router.get("/presets/{name}", summary="One lesson preset with its full configuration")
def get_preset(name: str = Path(..., max_length=100)) -> dict:
    if name not in presets.PRESETS:
        raise ApiError(404, f"unknown preset {name!r}; known: {', '.join(presets.names())}")
    return _one(name, True)
