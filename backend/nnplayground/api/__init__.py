"""The web tier: a FastAPI app with one router per resource (health, catalog, presets, runs,
websockets). Training never happens here; see nnplayground.service."""

from .app import create_app

__all__ = ["create_app"]
