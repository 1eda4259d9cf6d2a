#!/usr/bin/env bash
# Refresh the vendored browser libraries in static/vendor/ from the npm registry, at the versions
# pinned in frontend/package.json. The page loads nothing from a CDN: these copies are committed,
# and tests/ui/test_assets.py checks that they match the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
version=$(python3 -c "import json; print(json.load(open('frontend/package.json'))['dependencies']['uplot'])")
(cd "$tmp" && npm pack "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
cp "$tmp/package/dist/uPlot.esm.js" "$tmp/package/dist/uPlot.min.css" static/vendor/
cp "$tmp/package/LICENSE" static/vendor/uPlot.LICENSE
python3 - "$version" <<'PY'
import hashlib, json, sys
files = ["uPlot.esm.js", "uPlot.min.css"]
sums = {f: hashlib.sha256(open(f"static/vendor/{f}", "rb").read()).hexdigest() for f in files}
json.dump({"uplot": {"version": sys.argv[1], "sha256": sums}}, open("static/vendor/VENDOR.json", "w"), indent=2)
PY
rm -rf "$tmp"
echo "vendored uplot $version"
