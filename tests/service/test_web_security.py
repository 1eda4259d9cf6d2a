"""What another web site can make a visitor's browser do, through a real `nnplayground serve`
(issue 10, items 9, 10 and 12): DNS rebinding (a foreign Host), cross-site posts (a foreign Origin, a
form body), framing and sniffing (headers), the teacher session (revoked by logout and by a new
secret), a non-Bearer Authorization header next to a valid cookie, and the teacher secret in the
start-up output."""

from __future__ import annotations

import socket
import sqlite3
import time

import httpx
from service_helpers import Server, tiny

SECRET = "web-security-teacher-secret"
NEW_SECRET = "web-security-another-secret"


def handshake_status(port: int, host: str) -> int:
    """The HTTP status of a websocket handshake on /ws/runs sent with this Host header."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            (
                f"GET /ws/runs HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        return int(s.recv(4096).split(b" ", 2)[1])


def test_a_single_user_server_refuses_other_sites(tmp_path):
    server = Server(tmp_path / "single.db", workers=1).start()
    try:
        http, port = server.http, server.port
        # DNS rebinding: evil.example resolved to 127.0.0.1, the browser sends its own name
        for path in ("/", "/api/runs", "/api/health"):
            r = http.get(path, headers={"Host": f"evil.example:{port}"})
            assert r.status_code == 400, (path, r.status_code)
            assert "NNPLAYGROUND_ALLOWED_HOSTS" in r.json()["error"]
        r = http.post("/api/runs", json=tiny(), headers={"Host": "evil.example"})
        assert r.status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "192.168.1.20:8000"):
            assert http.get("/api/health", headers={"Host": host}).status_code == 200, host
        assert handshake_status(port, f"evil.example:{port}") == 403
        assert handshake_status(port, f"127.0.0.1:{port}") == 101

        before = http.get("/api/runs").json()["total"]
        # a page of another site posting with fetch or a form
        r = http.post("/api/runs", json=tiny(), headers={"Origin": "http://evil.example"})
        assert r.status_code == 403, r.text
        r = http.post("/api/runs", json=tiny(), headers={"Origin": "null"})  # a sandboxed frame
        assert r.status_code == 403
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = http.post("/api/runs", content=b"", headers=form)  # the form post: empty body
        assert r.status_code == 415, r.text
        assert "application/json" in r.json()["error"]
        r = http.post("/api/runs", content=b'{"training": {"epochs": 2}}', headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        r = http.post("/api/runs", content=b"", headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert r.status_code == 415
        octet = {"Content-Type": "application/octet-stream"}
        assert http.post("/api/runs", content=b'{"training": {"epochs": 2}}', headers=octet).status_code == 415
        r = http.delete("/api/runs/abc", headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        assert http.get("/api/runs").json()["total"] == before  # nothing was created
        # this server's own pages, and scripts (no Origin, no body or JSON) still work
        own = {"Origin": f"http://127.0.0.1:{port}"}
        assert http.post("/api/runs", json=tiny(), headers=own).status_code == 201
        assert http.post("/api/runs", json=tiny()).status_code == 201
        assert http.post("/api/runs").status_code == 201  # no body at all: the defaults
        # an empty body declared as bytes (aiohttp's POST without data) is no body, not a form
        assert http.post("/api/runs", content=b"", headers=octet).status_code == 201

        page = http.get("/")
        assert page.status_code == 200 and "<html" in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-frame-options"] == "DENY"
        for path in ("/api/health", "/app/main.js", "/docs"):
            r = http.get(path)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    finally:
        server.stop()


def classroom(db, secret: str) -> Server:
    env = {"NNPLAYGROUND_TEACHER_SECRET": secret, "NNPLAYGROUND_ALLOWED_HOSTS": "playground.lan"}
    return Server(db, workers=1, env=env, extra=["--classroom"]).start()


def teacher_cookie(http: httpx.Client, secret: str) -> str:
    r = http.post("/api/teacher/login", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.json() == {"teacher": True}
    cookie = r.cookies["nnp_teacher"]
    assert secret not in cookie
    http.cookies.clear()
    return cookie


def test_teacher_sessions_end_at_logout_and_with_a_new_secret(tmp_path):
    db = tmp_path / "room.db"
    server = classroom(db, SECRET)
    try:
        http = server.http
        log = db.with_suffix(f".{server.port}.log").read_text()
        assert "/teacher" in log and "NNPLAYGROUND_TEACHER_SECRET" in log
        assert SECRET not in log  # it came from the environment: not printed

        assert http.get("/api/health", headers={"Host": "playground.lan:8000"}).status_code == 200  # configured
        assert http.get("/api/health", headers={"Host": "other.lan"}).status_code == 400

        cookie = teacher_cookie(http, SECRET)
        as_teacher = {"Cookie": f"nnp_teacher={cookie}"}
        assert http.get("/api/rooms", headers=as_teacher).status_code == 200
        # a proxy's Basic credentials (or any other scheme) next to the cookie do not void it
        basic = {**as_teacher, "Authorization": "Basic dXNlcjpwYXNz"}
        assert http.get("/api/rooms", headers=basic).status_code == 200
        assert http.get("/api/me", headers=basic).json()["teacher"] is True
        # a wrong Bearer token is still refused
        bad = {**as_teacher, "Authorization": "Bearer not-a-token"}
        assert http.get("/api/rooms", headers=bad).status_code == 401

        assert http.post("/api/teacher/logout", headers=as_teacher).status_code == 200
        assert http.get("/api/rooms", headers=as_teacher).status_code == 401  # the same cookie, replayed
        assert http.get("/api/me", headers=as_teacher).json()["teacher"] is False

        expiring = teacher_cookie(http, SECRET)
        assert http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={expiring}"}).status_code == 200
        with sqlite3.connect(db) as c:  # its expiry passes (7 days after login)
            c.execute("UPDATE teacher_sessions SET expires_at = ? WHERE expires_at > ?", (time.time() - 1, 0))
        assert http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={expiring}"}).status_code == 401

        kept = teacher_cookie(http, SECRET)  # a session left open when the secret changes
        assert http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={kept}"}).status_code == 200
    finally:
        server.stop()
    server = classroom(db, NEW_SECRET)
    try:
        http = server.http
        assert http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={kept}"}).status_code == 401
        fresh = teacher_cookie(http, NEW_SECRET)
        assert http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={fresh}"}).status_code == 200
    finally:
        server.stop()
    server = classroom(db, NEW_SECRET)  # a restart with the same secret keeps the session
    try:
        assert server.http.get("/api/rooms", headers={"Cookie": f"nnp_teacher={fresh}"}).status_code == 200
    finally:
        server.stop()
