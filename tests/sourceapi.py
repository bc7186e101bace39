"""A small JSON API on 127.0.0.1 for HTTP data-source tests: it wants a bearer token,
answers ``{"items": [{"name": <last path part>, "plan": "pro"}]}``, and 503 on
``/broken``. ``ApiServer.seen`` records (path, Authorization) of every request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

TOKEN = "src-token-" + "4d1e" * 6


@dataclass
class ApiServer:
    url: str
    seen: list[tuple[str, str | None]] = field(default_factory=list)


@contextmanager
def serve_api(token: str = TOKEN) -> Iterator[ApiServer]:
    api = ApiServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.seen.append((self.path, self.headers.get("Authorization")))
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.send_response(401)
                self.end_headers()
                return
            parsed = urlparse(self.path)
            if parsed.path == "/broken":
                self.send_response(503)
                self.end_headers()
                return
            who = unquote(parsed.path.rsplit("/", 1)[-1])
            body = json.dumps({"items": [{"name": who, "plan": "pro"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
