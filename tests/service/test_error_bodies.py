"""Issue 10 item 12: error bodies. A 500 carries a generic message and an error id, the exception
only in the server log; a body streamed in chunks beyond `max_body_bytes` gets 413 like a declared one."""

from __future__ import annotations

import logging

import httpx
import pytest
from service_helpers import Server


def test_a_500_body_names_an_error_id_not_the_exception(caplog):
    from fastapi.testclient import TestClient
    from nnplayground.api import create_app
    from nnplayground.service.settings import Settings

    app = create_app(Settings(allowed_hosts="testserver"))

    @app.get("/api/_boom")
    def boom() -> dict:
        raise KeyError("/srv/private/path and SELECT secret FROM somewhere")

    with caplog.at_level(logging.ERROR, logger="nnplayground.api"):
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/api/_boom")
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"error", "status", "error_id"} and body["status"] == 500
    assert len(body["error_id"]) == 12 and body["error_id"] in body["error"]
    assert "secret" not in r.text and "KeyError" not in r.text and "/srv" not in r.text
    logged = [rec for rec in caplog.records if body["error_id"] in rec.getMessage()]
    assert logged and "secret" in str(logged[0].exc_info[1])


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_gets_413(tmp_path):
    server = Server(tmp_path / "body.db", workers=1, env={"NNPLAYGROUND_MAX_BODY_BYTES": "100000"}).start()
    try:

        def chunks(total: int):
            piece = b'{"dataset": {"points": [' + b"[0.5, 0.5, 0]," * 2000
            sent = 0
            while sent < total:
                yield piece
                sent += len(piece)
            yield b"[0, 0, 0]]}}"

        for path in ("/api/runs", "/api/data/preview", "/api/runs/x/predict"):
            r = httpx.post(
                server.base + path, content=chunks(300_000), headers={"Content-Type": "application/json"}, timeout=30
            )
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            assert r.json() == {"error": "the request body is larger than 100000 bytes", "status": 413}
        # a declared length is refused the same way, and a small chunked body still works
        r = httpx.post(server.base + "/api/runs", content=b"x" * 100_001, headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        small = httpx.post(
            server.base + "/api/data/preview",
            content=iter([b'{"dataset": ', b'{"name": "moons"}}']),
            headers={"Content-Type": "application/json"},
        )
        assert small.status_code == 200
    finally:
        server.stop()


def test_422_detail_carries_the_pydantic_type_and_context_for_other_languages(client):
    """Issue 12 §6: the page words field errors in Spanish from `type` and `ctx`, not the English text."""
    r = client.post(
        "/api/runs", json={"training": {"epochs": 0, "batch_size": "x"}, "optimizer": {"name": "nope", "lr": -1}}
    )
    assert r.status_code == 422
    got = {d["field"]: d for d in r.json()["detail"]}
    assert got["training.epochs"]["type"] == "greater_than_equal" and got["training.epochs"]["ctx"] == {"ge": 1}
    assert got["training.batch_size"]["type"] == "int_parsing" and "ctx" not in got["training.batch_size"]
    assert got["optimizer.name"]["type"] == "literal_error"
    assert "'adam'" in got["optimizer.name"]["ctx"]["expected"]
    assert got["optimizer.lr"]["type"] == "greater_than" and got["optimizer.lr"]["ctx"] == {"gt": 0.0}
