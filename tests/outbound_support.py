"""Servers that misbehave on purpose, for the outbound-policy attack tests: each listens
on a free loopback port in threads of its own and is stopped by the test that started it
(use them as context managers).

- ``TcpRecorder``: an "internal service" that only counts who connects to it.
- ``FakeLms``: a small HTTP server whose routes a test fills in; records every request.
- ``Trickler``: answers a status line, then one header line every ``interval`` seconds,
  never finishing (the JWKS that held a launch 110 s in issue 15).
- ``BigBody``: answers 200 and streams a body until ``limit`` bytes or the client leaves.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factories import served_thread, stop_served


class _Threaded:
    """Start/stop for a socketserver in a daemon thread."""

    server: socketserver.BaseServer

    def _start(self) -> None:
        self.stopping = threading.Event()
        self._thread = served_thread(self.server)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]  # type: ignore[index,return-value]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopping.set()
        stop_served(self.server, self._thread)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TcpRecorder(_Threaded):
    def __init__(self) -> None:
        self.connections = 0
        self.received = b""
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                self.request.settimeout(1.0)
                try:
                    owner.received += self.request.recv(4096)
                except OSError:
                    pass

        self.server = _TcpServer(("127.0.0.1", 0), Handler)
        self._start()


class Trickler(_Threaded):
    def __init__(self, interval: float = 0.5) -> None:
        self.connections = 0
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                self.request.settimeout(2.0)
                try:
                    self.request.recv(65536)
                    self.request.sendall(b"HTTP/1.1 200 OK\r\n")
                    n = 0
                    while not owner.stopping.is_set():
                        time.sleep(interval)
                        n += 1
                        self.request.sendall(f"X-Slow-{n}: {'.' * 20}\r\n".encode())
                except OSError:
                    return  # the client hung up: that is the point

        self.server = _TcpServer(("127.0.0.1", 0), Handler)
        self._start()


class BigBody(_Threaded):
    def __init__(self, limit: int = 64 * 1024 * 1024, declare: bool = False) -> None:
        self.connections = 0
        self.sent = 0
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                self.request.settimeout(5.0)
                try:
                    self.request.recv(65536)
                    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    if declare:
                        head += f"Content-Length: {limit}\r\n"
                    else:
                        head += "Connection: close\r\n"
                    self.request.sendall(head.encode() + b"\r\n")
                    chunk = b" " * 65536
                    while owner.sent < limit and not owner.stopping.is_set():
                        self.request.sendall(chunk)
                        owner.sent += len(chunk)
                except OSError:
                    return

        self.server = _TcpServer(("127.0.0.1", 0), Handler)
        self._start()


Route = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]


class FakeLms(_Threaded):
    """``routes[(method, path)]`` answers a request given as a dict (method, path, query,
    headers, body); ``requests`` lists every request received, in order."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                request = {"method": self.command, "path": path, "query": query,
                           "headers": dict(self.headers),
                           "body": self.rfile.read(length) if length else b""}
                owner.requests.append(request)
                route = owner.routes.get((self.command, path))
                status, headers, body = route(request) if route else (404, {}, b"{}")
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # type: ignore[attr-defined]
        self._start()

    def json(self, method: str, path: str, data: Any, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.routes[(method, path)] = lambda _request: (status, {}, body)

    def openid_configuration(self, *, issuer: str | None = None, auth: str = "/auth",
                             token: str = "/token", jwks: str = "/jwks",
                             registration: str = "/registration") -> str:
        """Serve an OpenID configuration naming this server's endpoints; returns its URL."""
        base = self.origin
        self.json("GET", "/.well-known/openid-configuration", {
            "issuer": issuer or base, "authorization_endpoint": base + auth,
            "token_endpoint": base + token, "jwks_uri": base + jwks,
            "registration_endpoint": base + registration,
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "fake",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}]}})
        return base + "/.well-known/openid-configuration"

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
