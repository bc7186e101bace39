"""The hot paths: ``resolve`` from its answer cache, one-hop authentication, the
writers' queue across processes, and serving with several workers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import RunningRegistry, make_version
from workbench.core.errors import InputError, NotFoundError, UsageError
from workbench.registry.errors import AuthenticationError
from workbench.registry.schemas import Canary, LabelMove, LabelTarget, ReviewIn, VersionPush
from workbench.registry.server import serving
from workbench.registry.server.auth import Actor
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService

ALICE = Actor("alice", "author")
BOB = Actor("bob", "reviewer")
CAROL = Actor("carol", "publisher")


def _version_push(prompt: str, text: str) -> VersionPush:
    v = make_version(prompt=prompt, text=text)
    return VersionPush.model_validate(
        {
            "id": str(v.id),
            "prompt": v.prompt,
            "content": v.content.model_dump(mode="json"),
            "content_hash": v.content_hash,
            "created_at": v.created_at.isoformat(),
        }
    )


def _push(service: RegistryService, text: str) -> VersionPush:
    body = _version_push("hot/path", text)
    pushed = service.push_version(ALICE, body).version
    service.review(BOB, pushed.id, ReviewIn(decision="approve", content_hash=pushed.content_hash))
    return body


def _publish(service: RegistryService, target: LabelTarget, expected: LabelTarget | None) -> None:
    service.move_label(
        CAROL,
        "hot/path",
        "production",
        LabelMove(expected=expected, target=target, reason="release"),
    )


def test_resolve_body_is_the_resolved_json_and_follows_every_move(db_url: str) -> None:
    """Two services on one database stand for two processes: a move made through one is
    served by the other at once, though the other has the old answer cached."""
    settings = RegistrySettings(db_url=db_url)
    db_a, db_b = open_database(db_url), open_database(db_url)
    try:
        writer, reader = RegistryService(db_a, settings), RegistryService(db_b, settings)
        v1, v2 = _push(writer, "one"), _push(writer, "two")
        first = LabelTarget(version_id=v1.id)
        _publish(writer, first, None)
        before = reader.resolve_body("hot/path", "production", "k")
        assert (
            before.body == reader.resolve("hot/path", "production", "k").model_dump_json().encode()
        )
        assert reader.resolve_body("hot/path", "production", "k") == before  # from the cache
        assert json.loads(before.body)["version"]["id"] == str(v1.id)

        canary = LabelTarget(version_id=v1.id, canary=Canary(version_id=v2.id, percent=50))
        _publish(writer, canary, first)
        served = {
            key: json.loads(reader.resolve_body("hot/path", "production", key).body)
            for key in (f"user-{i}" for i in range(40))
        }
        for key, answer in served.items():
            expected = reader.resolve("hot/path", "production", key)
            assert answer == json.loads(expected.model_dump_json())
            assert answer["version"]["id"] == str(v2.id if answer["served"] == "canary" else v1.id)
        assert {a["served"] for a in served.values()} == {"primary", "canary"}

        _publish(writer, LabelTarget(version_id=v2.id), canary)
        after = reader.resolve_body("hot/path", "production", "k")
        assert json.loads(after.body)["version"]["id"] == str(v2.id)
        assert after.etag != before.etag
    finally:
        db_a.dispose()
        db_b.dispose()


def test_resolve_body_refuses_what_resolve_refuses(db_url: str) -> None:
    db = open_database(db_url)
    try:
        service = RegistryService(db, RegistrySettings(db_url=db_url))
        _push(service, "one")
        with pytest.raises(NotFoundError, match="no prompt named"):
            service.resolve_body("no/such", "production")
        with pytest.raises(NotFoundError, match="has no label 'production'"):
            service.resolve_body("hot/path", "production")
        with pytest.raises(InputError, match="label"):
            service.resolve_body("hot/path", "Not A Label!")
    finally:
        db.dispose()


def test_disabling_or_rotating_takes_effect_on_the_next_resolve(registry: RunningRegistry) -> None:
    """No token cache: the hot path reads the user on every request."""
    _push(registry.service, "one")
    version = registry.service.versions("hot/path")[0]
    _publish(registry.service, LabelTarget(version_id=version.id), None)
    path = "/api/v1/prompts/hot/path/resolve"
    alice = {"Authorization": f"Bearer {registry.tokens['alice']}"}
    with httpx.Client(base_url=registry.url) as http:
        assert http.get(path, headers=alice).status_code == 200
        registry.service.rotate_token("alice")
        refused = http.get(path, headers=alice)
        assert refused.status_code == 401
        assert refused.json()["error"] == AuthenticationError.__name__
        bob = {"Authorization": f"Bearer {registry.tokens['bob']}"}
        assert http.get(path, headers=bob).status_code == 200
        registry.service.disable_user("bob")
        assert http.get(path, headers=bob).status_code == 401
        assert http.get(path).status_code == 401
        assert http.post("/api/v1/versions", json={}, headers=bob).status_code in (401, 422)


def test_writers_in_several_processes_queue_without_losing_anything(tmp_path: Path) -> None:
    """Separate Database objects (as separate processes have) push at once: every
    version gets its own number and the audit chain stays whole."""
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    settings = RegistrySettings(db_url=url)
    databases = [open_database(url) for _ in range(3)]
    services = [RegistryService(db, settings) for db in databases]
    start = threading.Barrier(len(services) * 2)
    failures: list[BaseException] = []

    def pusher(service: RegistryService, n: int) -> None:
        start.wait()
        try:
            for i in range(15):
                service.push_version(ALICE, _version_push("queue/p", f"writer {n} text {i}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=pusher, args=(services[n % len(services)], n))
        for n in range(len(services) * 2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not failures
        numbers = [v.number for v in services[0].versions("queue/p", limit=500)]
        assert numbers == list(range(1, 91))
        report = services[1].verify_audit()
        assert report.ok, report.problems
        assert (tmp_path / "registry.sqlite3.writer-lock").exists()
    finally:
        for db in databases:
            db.dispose()


def test_serve_refuses_bad_worker_counts(tmp_path: Path) -> None:
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    with pytest.raises(UsageError, match="--workers"):
        serving.serve(settings, workers=0)
    with pytest.raises(UsageError, match="in-memory"):
        serving.serve(RegistrySettings(db_url="sqlite:///:memory:"), workers=2)


def test_workers_build_their_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(serving.SETTINGS_ENV, raising=False)
    with pytest.raises(UsageError, match=serving.SETTINGS_ENV):
        serving.app_from_environment()
    settings = RegistrySettings(
        db_url=f"sqlite:///{tmp_path / 'r.sqlite3'}",
        protected_labels=frozenset({"production", "live"}),
        require_eval_evidence=True,
    )
    monkeypatch.setenv(serving.SETTINGS_ENV, serving.settings_json(settings, access_log=False))
    switch = __import__("sys").getswitchinterval()
    try:
        app = serving.app_from_environment()
    finally:
        __import__("sys").setswitchinterval(switch)
    assert app.title == "Prompt Workbench registry"
    assert serving.settings_from_json(serving.settings_json(settings, access_log=True)) == (
        settings,
        True,
    )
