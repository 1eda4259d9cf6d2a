"""What keeps other web sites from acting through a visitor's browser, as ASGI middleware:

- the Host allow-list (DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends
  `Host: evil.example`): localhost, IP addresses, the address `serve --host` binds and the names in
  NNPLAYGROUND_ALLOWED_HOSTS; anything else is 400 on HTTP and a refused websocket handshake;
- state-changing requests (POST, PUT, PATCH, DELETE) from a foreign Origin are 403, and a body that is
  not JSON is 415 (an HTML form can post across sites without CORS; only as a form or text/plain);
- security headers on every answer: nosniff, no framing (CSP frame-ancestors and X-Frame-Options), a
  same-origin Content-Security-Policy on the pages, and Referrer-Policy."""

from __future__ import annotations

import ipaddress

from .auth import origin_allowed
from .errors import error_json

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARD_BINDS = {"", "0.0.0.0", "::"}
# The pages load only their own scripts, styles and sockets, and set styles through the CSSOM (no style
# attributes in markup). /docs and /redoc load FastAPI's CDN assets: those get only the no-framing part.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = "frame-ancestors 'none'"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def host_name(host: str) -> str:
    """The name of a Host header without its port: `[::1]:8000` -> `::1`, `a.b:80` -> `a.b`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Which Host headers are served. An IP address is always fine: a rebinding attack needs a name."""

    def __init__(self, bind_host: str, allowed_hosts: str):
        names = {h.strip().lower() for h in allowed_hosts.split(",") if h.strip()}
        self.any = "*" in names
        self.names = LOCAL_NAMES | names
        if bind_host not in WILDCARD_BINDS:
            self.names.add(bind_host.lower())

    def allowed(self, host: str | None) -> bool:
        if self.any:
            return True
        if not host:
            return False
        name = host_name(host)
        return name in self.names or _is_ip(name)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


# The types a page of another site may post without a CORS preflight (an HTML form, or fetch in no-cors
# mode): refused even with an empty body, which is how a cross-site form creates a run with the defaults.
CROSS_SITE_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}


def _refused_body(media: str, headers: dict[str, str]) -> bool:
    """A body must be JSON. An empty one under another declared type (some HTTP clients send
    application/octet-stream with every POST) is no body at all, unless its type is a form's."""
    if media == "application/json":
        return False
    if media in CROSS_SITE_TYPES:
        return True
    empty = headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in headers
    return not empty


class Guard:
    def __init__(self, app, bind_host: str = "", allowed_hosts: str = "", allowed_origins: str = ""):
        self.app = app
        self.hosts = HostCheck(bind_host, allowed_hosts)
        self.origins = {o.strip().rstrip("/") for o in allowed_origins.split(",") if o.strip()}

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        host = headers.get("host")
        if not self.hosts.allowed(host):
            if kind == "websocket":
                await receive()  # websocket.connect
                return await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
            return await self._refuse(
                scope,
                receive,
                send,
                400,
                f"this server does not answer to the host name {host_name(host or '')!r}; "
                "add it to NNPLAYGROUND_ALLOWED_HOSTS",
            )
        if kind == "http" and scope["method"] in UNSAFE:
            if not origin_allowed(headers.get("origin"), host, self.origins):
                return await self._refuse(
                    scope, receive, send, 403, "requests that change something must come from this server's pages"
                )
            ctype = headers.get("content-type")
            if ctype is not None and _refused_body(_media_type(ctype), headers):
                return await self._refuse(
                    scope,
                    receive,
                    send,
                    415,
                    f"request bodies must be JSON (Content-Type: application/json), not {_media_type(ctype)[:60]!r}",
                )
        if kind == "websocket":
            return await self.app(scope, receive, send)
        docs = scope["path"].startswith(("/docs", "/redoc"))
        csp = (DOCS_CSP if docs else PAGE_CSP).encode()

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS, (b"content-security-policy", csp)]
            await send(message)

        return await self.app(scope, receive, with_headers)

    async def _refuse(self, scope, receive, send, status: int, message: str):
        resp = error_json(status, message)
        resp.headers.update({k.decode(): v.decode() for k, v in HEADERS})
        resp.headers["content-security-policy"] = DOCS_CSP
        await resp(scope, receive, send)
