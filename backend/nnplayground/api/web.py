"""The browser playground: the Jinja2 page shells (`/`, `/lab` optimizer lab, `/teacher`), the ES
modules of frontend/src at `/app` (no build step) and the static assets (CSS, vendored uPlot) at
`/static`. In a checkout they are read where they live; a wheel carries them as package data under
nnplayground/web/ (templates/, app/, static/: see pyproject.toml)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from .. import __version__
from .auth import set_client_cookie


def web_root() -> Path:
    """The folder that holds the pages: NNPLAYGROUND_WEB_ROOT (a checkout's layout), else the package
    data of an installed wheel (nnplayground/web/), else the checkout this package runs from."""
    env = os.environ.get("NNPLAYGROUND_WEB_ROOT")
    if env:
        return Path(env)
    installed = Path(__file__).resolve().parents[1] / "web"
    return installed if (installed / "templates").is_dir() else Path(__file__).resolve().parents[3]


def web_dirs(root: Path) -> tuple[Path, Path, Path]:
    """(templates, browser modules, static assets) under a root of either layout."""
    if (root / "templates").is_dir():  # the wheel's package data
        return root / "templates", root / "app", root / "static"
    return root / "frontend" / "templates", root / "frontend" / "src", root / "static"


def mount_ui(app: FastAPI) -> None:
    pages, modules, assets = web_dirs(web_root())
    templates = Jinja2Templates(directory=str(pages))
    for name in ("index.html", "teacher.html", "lab.html"):  # compiled now, not by a class's first page loads
        templates.get_template(name)
    app.mount("/static", StaticFiles(directory=assets), name="static")
    app.mount("/app", StaticFiles(directory=modules), name="app")

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
