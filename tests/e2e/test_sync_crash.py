"""Crash safety of sync: the client killed with SIGKILL mid-sync, the server killed mid-push.

Afterwards both sides must agree: every version in the vault is in the registry with
the same hash, number and parents (and the other way round), per-prompt numbers are
1..n with no gaps or repeats, every decision queued offline reached the registry
exactly once, and both SQLite files pass ``integrity_check``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.server.conftest import USERS, RunningRegistry
from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.registry import sync as sync_module
from workbench.registry.client import RegistryClient
from workbench.registry.errors import RegistryUnavailableError
from workbench.registry.outbox import QueuedLabelMove
from workbench.registry.schemas import LabelTarget
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore

pytestmark = pytest.mark.slow

KILLS = 30
CHILD_PROMPT = "crash/mine"
OTHER_PROMPT = "crash/theirs"


def content(text_: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text_),))


def registry_versions(service: RegistryService) -> dict[str, list[PromptVersion]]:
    """Every version the registry holds, per prompt, in number order."""
    out: dict[str, list[PromptVersion]] = {}
    for info in service.prompts(limit=1000):
        versions: list[PromptVersion] = []
        while True:
            after = versions[-1].number or 0 if versions else 0
            page = service.versions(info.name, after=after, limit=1000)
            if not page:
                break
            versions.extend(page)
        out[info.name] = versions
    return out


def assert_agree(vault: Vault, service: RegistryService) -> None:
    """Vault and registry hold the same versions; the registry holds no duplicates."""
    remote = registry_versions(service)
    assert sorted(remote) == vault.prompt_names()
    for name, versions in remote.items():
        ids = [v.id for v in versions]
        assert len(ids) == len(set(ids)), f"duplicate version ids in {name}"
        assert [v.number for v in versions] == list(range(1, len(versions) + 1)), name
        local = {v.id: (v.content_hash, v.number, v.parent_ids) for v in vault.history(name)}
        assert local == {v.id: (v.content_hash, v.number, v.parent_ids) for v in versions}
    assert SyncStore(vault).drafts() == []
    assert vault.integrity_check() == "ok"
    assert vault.verify_audit() is None
    assert service.verify_audit().ok


# ---- (a) the client killed during sync ----------------------------------------------


def _client_loop(vault_path: Path, url: str, token: str, seed: int, out: Connection) -> None:
    """The forked child: commit offline, review, sync; report each step once it is durable.

    It runs until the parent kills it. A failure is reported, never swallowed.
    """
    try:
        sync_module.PAGE_SIZE = 3  # many small pages: more instants between transactions
        rng = random.Random(seed)
        vault = Vault.open(vault_path, actor="bob")
        syncer = Syncer(vault, RegistryClient(url, token))
        step = 0
        while True:
            step += 1
            for _ in range(rng.randint(1, 3)):
                parents = None
                if CHILD_PROMPT in vault.prompt_names() and rng.random() < 0.3:
                    parents = [rng.choice(vault.history(CHILD_PROMPT)).id]  # a fork
                text_ = f"{seed} {step} {rng.random()}"
                v = vault.commit(CHILD_PROMPT, content(text_), "edit", parents=parents)
                out.send(("committed", str(v.id)))
            if OTHER_PROMPT in vault.prompt_names() and rng.random() < 0.5:
                target = rng.choice(vault.history(OTHER_PROMPT))
                comment = f"review {uuid.uuid4()}"
                syncer.queue_review(target, rng.choice(["approve", "request_changes"]), comment)
                out.send(("reviewed", comment))
            report = syncer.sync()
            assert not report.rejected, report.rejected
            out.send(("synced", report.pushed_versions))
    except BaseException:
        out.send(("failed", traceback.format_exc()))
        raise


def test_client_killed_during_sync_30_times(tmp_path: Path, registry: RunningRegistry) -> None:
    rng = random.Random(20240607)
    vault_path = tmp_path / "bob.sqlite3"
    Vault.open(vault_path, create=True, actor="bob").close()
    ctx = multiprocessing.get_context("fork")
    committed: set[str] = set()
    queued_reviews: set[str] = set()
    alice = registry.client("alice")
    parent_of_other: PromptVersion | None = None
    for round_ in range(KILLS):
        # Someone else keeps pushing, so every round has changes to pull as well.
        for _ in range(rng.randint(0, 4)):
            body = content(f"alice {round_} {rng.random()}")
            v = PromptVersion(
                prompt=OTHER_PROMPT,
                content=body,
                content_hash=body.content_hash(),
                parent_ids=(parent_of_other.id,) if parent_of_other else (),
            )
            alice.push_version(v)
            parent_of_other = v
        reader, writer = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_client_loop,
            args=(vault_path, registry.url, registry.tokens["bob"], round_, writer),
            daemon=True,
        )
        child.start()
        writer.close()
        # Let it finish 0-2 rounds, then kill it soon after the next round's first
        # commit: at a random instant among its commits, pushes, pulls and bookkeeping.
        syncs_before_kill = rng.randint(0, 2)
        synced = 0
        while True:
            assert reader.poll(60), "the child reported nothing for 60 s"
            kind, value = reader.recv()
            assert kind != "failed", value
            if kind == "committed":
                committed.add(value)
                if synced == syncs_before_kill:
                    break
            elif kind == "reviewed":
                queued_reviews.add(value)
            elif kind == "synced":
                synced += 1
        child.join(timeout=rng.uniform(0.0, 0.04))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        while reader.poll():
            try:
                kind, value = reader.recv()
            except EOFError:
                break
            assert kind != "failed", value
            if kind == "committed":
                committed.add(value)
            elif kind == "reviewed":
                queued_reviews.add(value)
        reader.close()

    with Vault.open(vault_path, actor="bob") as vault:
        # Nothing a commit reported as done was lost, and the vault is intact.
        assert vault.integrity_check() == "ok"
        assert committed <= {str(v.id) for v in vault.history(CHILD_PROMPT)}
        syncer = Syncer(vault, registry.client("bob"))
        final = syncer.sync()
        assert final.rejected == []
        again = syncer.sync()
        assert (again.pushed_versions, again.pushed_decisions, again.pulled_changes) == (0, 0, 0)
        assert SyncStore(vault).outbox() == []
        assert_agree(vault, registry.service)
        # Every decision queued offline reached the registry exactly once.
        comments: list[str] = []
        for v in registry_versions(registry.service)[OTHER_PROMPT]:
            comments += [r.comment for r in registry.service.reviews(v.id)]
        assert len(comments) == len(set(comments)), "a review was sent twice"
        assert queued_reviews <= set(comments)
        mirrored = sorted(r["comment"] for r in SyncStore(vault).all_reviews())
        assert mirrored == sorted(comments)
        assert registry.service.changes(SyncStore(vault).cursor(), 10).changes == ()


# ---- (b) the server killed during pushes --------------------------------------------

SERVE = """
import socket, sys, uvicorn
from workbench.registry.server.app import create_app
from workbench.registry.server.config import RegistrySettings
sock = socket.socket(fileno=int(sys.argv[2]))
app = create_app(RegistrySettings(db_url=sys.argv[1]))
uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False)).run(sockets=[sock])
"""


@contextmanager
def listening_socket() -> Iterator[socket.socket]:
    """One listening socket for every server incarnation: same port, clients queue while
    the server is down instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    try:
        yield sock
    finally:
        sock.close()


def start_server(db_url: str, sock: socket.socket) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, db_url, str(sock.fileno())],
        pass_fds=(sock.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # never read: a pipe would leak (and could fill up)
    )


class KillingTransport(httpx.HTTPTransport):
    """Kills the server process at a random instant after the n-th push has been sent."""

    def __init__(self, server: subprocess.Popen[bytes], after: int, rng: random.Random) -> None:
        super().__init__()
        self.server = server
        self.after = after
        self.rng = rng
        self.pushes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/api/v1/versions":
            self.pushes += 1
            if self.pushes == self.after:
                delay = self.rng.uniform(0.0, 0.004)
                threading.Timer(delay, self.server.kill).start()
        return super().handle_request(request)


def test_server_killed_during_pushes(tmp_path: Path) -> None:
    rng = random.Random(7)
    db_url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    db = open_database(db_url)
    setup = RegistryService(db, RegistrySettings(db_url=db_url))
    tokens = {name: setup.add_user(name, role) for name, role in USERS.items()}
    db.dispose()

    vault = Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice")
    versions: list[PromptVersion] = []
    for i in range(120):
        name = f"load/p{i % 3}"
        earlier = [v for v in versions if v.prompt == name]
        parents = [rng.choice(earlier).id] if earlier and rng.random() < 0.2 else None  # forks
        versions.append(vault.commit(name, content(f"text {i}"), "m", parents=parents))

    with listening_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        kills = 0
        for _ in range(3):
            server = start_server(db_url, sock)
            transport = KillingTransport(server, after=rng.randint(5, 25), rng=rng)
            with (
                RegistryClient(url, tokens["alice"], transport=transport) as client,
                pytest.raises(RegistryUnavailableError),
            ):
                Syncer(vault, client).sync()
            assert server.wait(timeout=30) == -signal.SIGKILL
            kills += 1
        assert len(SyncStore(vault).drafts()) < len(versions)  # some pushes did land
        server = start_server(db_url, sock)
        try:
            with RegistryClient(url, tokens["alice"]) as client:
                report = Syncer(vault, client).sync()
                assert report.rejected == []
                assert Syncer(vault, client).sync().pushed_versions == 0
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert kills == 3

    db = open_database(db_url)
    try:
        service = RegistryService(db, RegistrySettings(db_url=db_url))
        assert_agree(vault, service)
        assert sum(len(v) for v in registry_versions(service).values()) == len(versions)
        with db.read_engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        db.dispose()
        vault.close()


# ---- a lost answer: the registry did it, the client never heard -----------------------


class LoseOneAnswer(httpx.HTTPTransport):
    """Forwards every request, but drops the answer to the first write on ``path_part``."""

    def __init__(self, path_part: str) -> None:
        super().__init__()
        self.path_part = path_part
        self.armed = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.armed and request.method != "GET" and self.path_part in request.url.path:
            self.armed = False
            response.close()
            raise httpx.ReadError("connection dropped after the request", request=request)
        return response


def test_a_retried_decision_is_recorded_once(tmp_path: Path, registry: RunningRegistry) -> None:
    author = Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice")
    v = author.commit("p", content("hello"), "first")
    Syncer(author, registry.client("alice")).sync()
    reviewer = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
    Syncer(reviewer, registry.client("bob")).sync()
    pulled = reviewer.version_by_id(v.id)
    for path_part in ("/reviews", "/labels/"):
        with RegistryClient(
            registry.url, registry.tokens["bob"], transport=LoseOneAnswer(path_part)
        ) as c:
            syncer = Syncer(reviewer, c)
            if path_part == "/reviews":
                syncer.queue_review(pulled, "approve", "reads well")
            else:
                move = QueuedLabelMove(
                    label="staging", target=LabelTarget(version_id=v.id), reason="release"
                )
                syncer.store.queue("label", "p", move)
            with pytest.raises(RegistryUnavailableError):
                syncer.sync()
            report = syncer.sync()
        assert report.rejected == []
        # The lost answer's request did land: the retry finds it there, sends nothing
        # twice, and says so (issue 12, item 14).
        assert report.pushed_decisions + report.already_sent_decisions == 1
        assert SyncStore(reviewer).outbox() == []
    assert [r.comment for r in registry.service.reviews(v.id)] == ["reads well"]
    assert registry.service.label("p", "staging").target.version_id == v.id
    assert [r["comment"] for r in SyncStore(reviewer).all_reviews()] == ["reads well"]
