"""The web tier: a FastAPI app with one router per resource (api/routes: runs, rooms, clients, teacher,
presets, catalog, data, landscape, health, websockets). Training never happens here; see nnplayground.service."""

from .app import create_app

__all__ = ["create_app"]
