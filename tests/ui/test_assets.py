"""The page loads nothing from elsewhere, and the vendored chart library is the pinned one."""

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_vendored_uplot_matches_the_pinned_version():
    pinned = json.loads((ROOT / "frontend" / "package.json").read_text())["dependencies"]["uplot"]
    vendor = json.loads((ROOT / "static" / "vendor" / "VENDOR.json").read_text())["uplot"]
    assert vendor["version"] == pinned, "run scripts/vendor.sh after changing frontend/package.json"
    for name, digest in vendor["sha256"].items():
        data = (ROOT / "static" / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"static/vendor/{name} was edited by hand"


def test_no_cdn_or_remote_font_in_the_page_sources():
    sources = [
        ROOT / "frontend" / "templates" / "index.html",
        *(ROOT / "frontend" / "src").glob("*.js"),
        ROOT / "static" / "css" / "app.css",
    ]
    for path in sources:
        text = path.read_text()
        remote = re.findall(r"""(?:src|href|url|import)[=(\s]*["']?(https?://[^"')\s]+)""", text)
        assert not remote, f"{path.name} loads {remote}"


def _keys(block: str) -> set[str]:
    return set(re.findall(r'"([\w.]+)":', block))


def test_every_text_has_both_languages_and_every_page_key_exists():
    src = (ROOT / "frontend" / "src" / "i18n.js").read_text()
    for table in ("STRINGS", "FIELDS"):
        body = src[src.index(f"const {table} = {{") :]
        body = body[: body.index("\n};")]
        en, es = body.split("\n  es: {")
        assert _keys(en) and _keys(en) == _keys(es), (
            f"{table}: only English {sorted(_keys(en) - _keys(es))}, only Spanish {sorted(_keys(es) - _keys(en))}"
        )
    strings = src[src.index("const STRINGS = {") : src.index("const FIELDS = {")]
    used = set()
    for page in (ROOT / "frontend" / "templates").glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-title|-placeholder)?="([\w.]+)"', page.read_text()))
    for js in (ROOT / "frontend" / "src").glob("*.js"):
        used |= set(re.findall(r'\bt\("([\w.]+)"', js.read_text()))
        used |= set(re.findall(r'"data-i18n": "([\w.]+)"', js.read_text()))
    missing = sorted(k for k in used if f'"{k}":' not in strings)
    assert not missing, f"texts with no translation: {missing}"
