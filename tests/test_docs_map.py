"""docs/architecture.md stays a true map: every module file of the package and of the browser code is
named there, and every file the page names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "backend" / "nnplayground"
FRONTEND = ROOT / "frontend" / "src"
# a path the page names from the repository root; others are relative to the package or to frontend/src
REPO_DIRS = ("backend/", "frontend/", "static/", "tests/", "benchmarks/", "scripts/", "docs/")


def named_files(text: str) -> set[str]:
    """The files the page names in backticks (`engine/config.py`, `main.js`, `service/templates/x.py.j2`),
    as paths from the repository root."""
    out = set()
    for name in re.findall(r"`([\w./-]+\.(?:py|js|j2|html|css|toml|md))`", text):
        if name.startswith(REPO_DIRS) or name == "pyproject.toml":
            out.add(name)
        elif name.endswith(".js"):
            out.add(f"frontend/src/{name}")
        else:
            out.add(f"backend/nnplayground/{name}")
    return out


def module_files() -> set[str]:
    """Every module of the package (except the packages' __init__.py) and every browser module."""
    py = {p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts}
    js = set(FRONTEND.glob("*.js"))
    return {str(p.relative_to(ROOT)) for p in py | js}


def test_named_files_resolve_as_expected():
    text = "`engine/config.py`, `main.js`, `tests/test_import_contracts.py`, `pyproject.toml`, `api/routes/ws.py`"
    assert named_files(text) == {
        "backend/nnplayground/engine/config.py",
        "frontend/src/main.js",
        "tests/test_import_contracts.py",
        "pyproject.toml",
        "backend/nnplayground/api/routes/ws.py",
    }


def test_every_file_the_map_names_exists():
    missing = sorted(p for p in named_files(DOC.read_text()) if not (ROOT / p).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_module_is_on_the_map():
    absent = sorted(module_files() - named_files(DOC.read_text()))
    assert not absent, f"modules missing from docs/architecture.md (one line each): {absent}"
