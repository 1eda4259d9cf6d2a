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
    sources = [ROOT / "frontend" / "templates" / "index.html", *(ROOT / "frontend" / "src").glob("*.js"),
               ROOT / "static" / "css" / "app.css"]
    for path in sources:
        text = path.read_text()
        remote = re.findall(r"""(?:src|href|url|import)[=(\s]*["']?(https?://[^"')\s]+)""", text)
        assert not remote, f"{path.name} loads {remote}"
