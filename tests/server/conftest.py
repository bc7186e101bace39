"""A real registry under uvicorn on 127.0.0.1, on SQLite and (marked) on PostgreSQL.

The listening socket is bound and listening before uvicorn's thread starts, so
clients can connect at once: the kernel queues them until the server accepts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.schemas import UserRole
from workbench.registry.server.app import create_app
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database, open_database
from workbench.registry.server.service import RegistryService

USERS: dict[str, UserRole] = {
    "alice": "author",
    "bob": "reviewer",
    "carol": "publisher",
    "root": "admin",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    try:
        url: str = request.getfixturevalue("pg_url")
    except pytest.FixtureLookupError:
        pytest.skip("the pg_url fixture (tests/conftest.py) is not available")
    return url


@contextlib.contextmanager
def serve_app(app: Any, port: int = 0) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on 127.0.0.1 (``port``, default a free one);
    yield its base URL. A port given again serves a restarted registry where it was."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn's pre-bound-socket path leaves Nagle on, which costs ~40 ms per
    # request against delayed ACKs; accepted sockets inherit this option.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class RunningRegistry:
    url: str
    db: Database
    service: RegistryService
    settings: RegistrySettings
    tokens: dict[str, str] = field(default_factory=dict)
    _clients: list[RegistryClient] = field(default_factory=list)

    def client(self, user: str) -> RegistryClient:
        c = RegistryClient(self.url, self.tokens[user])
        self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()


@contextlib.contextmanager
def running_registry(settings: RegistrySettings) -> Iterator[RunningRegistry]:
    db = open_database(settings.db_url)
    service = RegistryService(db, settings)
    tokens = {name: service.add_user(name, role) for name, role in USERS.items()}
    app = create_app(settings, database=db)
    try:
        with serve_app(app) as url:
            reg = RunningRegistry(url=url, db=db, service=service, settings=settings, tokens=tokens)
            try:
                with reg.client("root") as probe:
                    assert probe.ready()
                yield reg
            finally:
                reg.close()
    finally:
        db.dispose()


@pytest.fixture
def registry(db_url: str) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=db_url)) as reg:
        yield reg


def make_version(
    prompt: str = "support/reply",
    text: str = "Hello {{ name }}",
    parents: tuple[PromptVersion, ...] = (),
    message: str = "",
) -> PromptVersion:
    content = PromptContent(messages=(Message(role="user", template=text),))
    return PromptVersion(
        prompt=prompt,
        content=content,
        content_hash=content.content_hash(),
        message=message,
        parent_ids=tuple(p.id for p in parents),
    )
