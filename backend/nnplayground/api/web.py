"""The browser playground: the Jinja2 page shells (`/`, `/lab` optimizer lab, `/teacher`), the ES
modules of frontend/src at `/app` (no build step) and the static assets (CSS, vendored uPlot) at
`/static`."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__
from .routes.rooms import set_client_cookie


def web_root() -> Path:
    """The repository folder that holds frontend/ and static/ (NNPLAYGROUND_WEB_ROOT overrides)."""
    env = os.environ.get("NNPLAYGROUND_WEB_ROOT")
    return Path(env) if env else Path(__file__).resolve().parents[3]


def mount_ui(app: FastAPI) -> None:
    root = web_root()
    templates = Jinja2Templates(directory=str(root / "frontend" / "templates"))
    for name in ("index.html", "teacher.html", "lab.html"):  # compiled now, not by a class's first page loads
        templates.get_template(name)
    app.mount("/static", StaticFiles(directory=root / "static"), name="static")
    app.mount("/app", StaticFiles(directory=root / "frontend" / "src"), name="app")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request):
        response = templates.TemplateResponse(request, "index.html", {"version": __version__})
        set_client_cookie(request, response)  # the anonymous client token (classroom identity)
        return response

    @app.get("/teacher", response_class=HTMLResponse, include_in_schema=False)
    async def teacher(request: Request):
        response = templates.TemplateResponse(request, "teacher.html", {"version": __version__})
        set_client_cookie(request, response)
        return response

    @app.get("/lab", response_class=HTMLResponse, include_in_schema=False)
    async def lab(request: Request):
        response = templates.TemplateResponse(request, "lab.html", {"version": __version__})
        set_client_cookie(request, response)  # classroom mode: POST /api/landscape needs a client token
        return response
