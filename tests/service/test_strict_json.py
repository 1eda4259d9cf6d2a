"""Issue 9 item 3: every output path writes strict JSON (a non-finite float is null, never the bare
NaN / Infinity tokens that JSON.parse rejects): the CLI's events file, REST bodies, websocket frames,
exports and the classroom fan-out, all through `nnplayground.jsonutil`."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest
from nnplayground.jsonutil import dumps, dumps_bytes, loads_strict
from service_helpers import Server, nnplayground_command, wait_status
from websockets.sync.client import connect

# The input: plain SGD at lr 10 with batch size 1 on the sine diverges within an epoch.
DIVERGING = {
    "dataset": {"name": "sine", "n_samples": 200},
    "model": {"hidden": [8], "activation": "tanh"},
    "optimizer": {"name": "sgd", "lr": 10},
    "training": {"epochs": 5, "batch_size": 1},
    "telemetry": {"histogram_every": 0},
}
BACKEND = Path(__file__).resolve().parents[2] / "backend" / "nnplayground"


def test_loads_strict_refuses_the_tokens_json_does_not_have():
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}'):
        with pytest.raises(ValueError):
            loads_strict(text)
    assert loads_strict('{"a": null}') == {"a": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"loss": math.nan, "grad_norm": {"fc1": math.inf, "out": -math.inf}, "xs": [1.5, math.nan]},
            {"loss": None, "grad_norm": {"fc1": None, "out": None}, "xs": [1.5, None]},
        ),
        # integers beyond 64 bits and non-string keys take the standard library's path
        ({"big": 2**70, 3: [math.nan, (math.inf, 2.0)]}, {"big": 2**70, "3": [None, [None, 2.0]]}),
    ],
)
def test_dumps_maps_non_finite_floats_to_null(value, expected):
    assert loads_strict(dumps(value)) == expected
    assert loads_strict(dumps_bytes(value)) == expected


def test_worker_frames_are_strict():
    from nnplayground.service.worker import pack

    packed = pack({"type": "epoch", "epoch": 3, "train_loss": math.nan, "grad_norm": {"fc1": math.inf}})
    assert loads_strict(packed.text) == {"type": "epoch", "epoch": 3, "train_loss": None, "grad_norm": {"fc1": None}}
    assert loads_strict(packed.record) == {"epoch": 3, "train_loss": None, "grad_norm": {"fc1": None}}


def test_rest_responses_map_nan_to_null():
    """FastAPI's default response refuses NaN with a ValueError (a 500): the app's default is strict."""
    from fastapi.testclient import TestClient
    from nnplayground.api import create_app
    from nnplayground.api.app import StrictJSONResponse, error_json

    assert loads_strict(StrictJSONResponse({"v": [math.nan, math.inf]}).body) == {"v": [None, None]}
    assert isinstance(error_json(400, "x"), StrictJSONResponse)
    from nnplayground.service.settings import Settings

    app = create_app(Settings(allowed_hosts="testserver"))
    assert app.router.default_response_class is StrictJSONResponse

    @app.get("/api/_nan_probe")
    def probe() -> dict:
        return {"loss": math.nan, "norms": {"fc1": -math.inf}}

    with TestClient(app) as c:
        r = c.get("/api/_nan_probe")
    assert r.status_code == 200
    assert loads_strict(r.text) == {"loss": None, "norms": {"fc1": None}}


def test_metrics_csv_writes_empty_cells_for_non_finite_values():
    from nnplayground.service.artifacts import _cell

    assert [_cell(v) for v in (math.nan, math.inf, None, 0.5, 3)] == ["", "", "", 0.5, 3]


def test_no_output_path_bypasses_the_strict_encoder():
    """json.dumps / orjson / Starlette's JSONResponse anywhere else would be a path that writes NaN."""
    allowed = {
        "jsonutil.py",  # the encoder itself
        "engine/transfer.py",  # the built-in source's config inside its torch.save file: finite constants
        "service/scriptgen.py",  # Python literals in a generated script, not JSON
    }
    offenders = []
    for path in BACKEND.rglob("*.py"):
        rel = path.relative_to(BACKEND).as_posix()
        if rel in allowed:
            continue
        text = path.read_text()
        for pattern in (r"\bjson\.dumps\(", r"\borjson\.", r"(?<!Strict)JSONResponse\("):
            if re.search(pattern, text):
                offenders.append(f"{rel}: {pattern}")
    assert offenders == []


def test_cli_events_file_is_strict_json(tmp_path):
    """The issue's exact command: every line parses with a strict parser and the diverged losses are null."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(DIVERGING))
    events = tmp_path / "ev.jsonl"
    proc = subprocess.run(
        [*nnplayground_command(), "run", str(cfg), "--events", str(events), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # a diverged run exits 1
    lines = events.read_text().splitlines()
    parsed = [loads_strict(line) for line in lines]  # raises on a bare NaN / Infinity
    end = parsed[-1]
    assert end["type"] == "run_end" and end["status"] == "diverged"
    assert end["summary"]["final_val_loss"] is None and end["summary"]["final_train_loss"] is None
    last = [e for e in parsed if e["type"] == "epoch"][-1]
    assert last["epoch"] == end["summary"]["epochs_run"]
    assert last["train_loss"] is None and last["val_loss"] is None
    assert any(e["type"] == "marker" and e["kind"] == "diverged" for e in parsed)


@pytest.mark.slow
def test_a_diverged_run_is_strict_json_on_every_server_path(tmp_path):
    """Through a real server: REST, /metrics, the websocket snapshot, predict with NaN weights, and
    the json / csv exports of a diverged run."""
    server = Server(tmp_path / "strict.db", workers=1).start()
    try:
        http = server.http
        run = http.post("/api/runs", json=DIVERGING).json()
        row = wait_status(http, run["id"], timeout=60)
        assert row["status"] == "diverged"
        for path in ("", "/metrics", "/checkpoints", "/surface"):
            r = http.get(f"/api/runs/{run['id']}{path}")
            assert r.status_code == 200, (path, r.text[:200])
            loads_strict(r.text)
        records = loads_strict(http.get(f"/api/runs/{run['id']}/metrics").text)["epochs"]
        assert records[-1]["train_loss"] is None and records[-1]["val_loss"] is None
        r = http.post(f"/api/runs/{run['id']}/predict", json={"inputs": [[0.0], [1.0]]})
        assert r.status_code == 200, r.text[:300]
        out = loads_strict(r.text)
        assert out["mean"] and all(v is None or math.isfinite(v) for v in out["mean"])
        r = http.get(f"/api/runs/{run['id']}/export", params={"format": "json"})
        assert r.status_code == 200
        loads_strict(r.text)
        csv_text = http.get(f"/api/runs/{run['id']}/export", params={"format": "csv"}).text
        assert "nan" not in csv_text.lower() and "inf" not in csv_text.lower()
        loads_strict(http.get("/api/runs").text)
        with connect(f"{server.ws_base}/ws/runs/{run['id']}", open_timeout=10, max_size=None) as ws:
            snap = loads_strict(ws.recv(timeout=10))
        assert snap["type"] == "snapshot" and snap["epochs"][-1]["val_loss"] is None
    finally:
        server.stop()
