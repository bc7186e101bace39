"""The engine child process, headless: a real ``python -m workbench.app.engine_child``
against the local provider server and a real vault file. It says ``ready`` once warm,
serves one request after another, and ends at ``quit`` or the end of its input."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.app.engine_child import (
    MODULE,
    PROTOCOL,
    EngineRequest,
    FailedEvent,
    RunEvent,
    error_from_event,
    parse_event,
)
from workbench.core.errors import NotFoundError, UsageError, WorkbenchError
from workbench.core.models import Message, PromptContent, Variable
from workbench.core.runs import CellKey, ModelRef, RunSpec, TestCase
from workbench.providers.profiles import ProviderProfile
from workbench.vault import Vault
from workbench.vault.runs import RunStore

KEY_ENV = "WORKBENCH_CHILD_TEST_KEY"
DEADLINE_S = 20.0


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as srv:
        yield srv


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    path = tmp_path / "vault.sqlite3"
    content = PromptContent(
        messages=(Message(role="user", template="Tell me about {{ topic }}"),),
        variables=(Variable(name="topic"),),
    )
    with Vault.open(path, create=True, actor="ada") as vault:
        vault.commit("greet", content, "first")
    return path


def _request(vault_path: Path, server: ProviderServer, cases: int = 2) -> EngineRequest:
    with Vault.open(vault_path) as vault:
        version = vault.history("greet")[0]
    profile = ProviderProfile(
        name="local",
        family="openai",
        base_url=server.base_url("openai"),
        key_env=KEY_ENV,
    )
    spec = RunSpec(
        prompt="greet",
        version_ids=(version.id,),
        models=(ModelRef(profile="local", model="test-model"), ModelRef.parse("local:slow")),
        cases=tuple(TestCase(name=f"c{i}", values={"topic": f"topic {i}"}) for i in range(cases)),
    )
    return EngineRequest(vault=vault_path, spec=spec, profiles=(profile,), actor="ada")


class Child:
    """The child process, and its events read with a deadline (never a bare sleep)."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, KEY_ENV: DEFAULT_KEY}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.raw = b""
        self._pending = b""

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()

    def event(self) -> dict[str, Any] | None:
        """The next event; None when the child closed its output."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + DEADLINE_S
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"no event from the engine child in {DEADLINE_S} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.raw += chunk
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return dict(json.loads(line))

    def events_until(self, kinds: set[str]) -> list[dict[str, Any]]:
        seen = []
        while (event := self.event()) is not None:
            seen.append(event)
            if event["event"] in kinds:
                break
        return seen

    def finish(self) -> tuple[int, bytes]:
        """End the input, as the app does when it quits; the exit code and stderr."""
        assert self.proc.stderr is not None
        self.close_stdin()
        code = self.proc.wait(timeout=DEADLINE_S)
        return code, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def child() -> Iterator[Child]:
    c = Child()
    yield c
    c.kill()


def test_a_run_streams_deltas_cells_and_the_run(
    child: Child, vault_path: Path, server: ProviderServer
) -> None:
    server.script("test-model", ttft=0.0, chunks=4, chunk_delay=0.1, output_tokens=5)
    server.script("slow", ttft=0.0, chunks=1)
    request = _request(vault_path, server)
    child.send(request.line())
    events = child.events_until({"run", "failed"})
    code, stderr = child.finish()
    assert code == 0, stderr.decode()
    assert events[-1]["event"] == "run"
    run = events[-1]["run"]
    assert run["status"] == "finished" and "cells" not in run

    cells = [e for e in events if e["event"] == "cell"]
    assert [c["done"] for c in cells] == [1, 2, 3, 4] and {c["total"] for c in cells} == {4}
    outputs = {CellKey.model_validate(c["cell"]["key"]): c["cell"]["output"] for c in cells}
    second = CellKey(
        version_id=request.spec.version_ids[0], model=request.spec.models[0], case_index=1
    )
    assert outputs[second] == "Tell me about topic 1"
    # Streamed text reached the reader before its cell: a prefix of the final output.
    streamed: dict[CellKey, str] = {}
    for event in events:
        if event["event"] == "deltas":
            for item in event["deltas"]:
                key = CellKey.model_validate(item["key"])
                streamed[key] = streamed.get(key, "") + item["text"]
    assert streamed, "a 4-chunk answer 0.1 s apart streams before it finishes"
    assert all(outputs[k].startswith(text) for k, text in streamed.items())
    # The child wrote the run to the vault itself, with the key from its environment,
    # and the key is nowhere in what it wrote to the app.
    with Vault.open(vault_path) as vault:
        stored = RunStore(vault).load(uuid.UUID(run["id"]))
    assert stored.status == "finished" and len(stored.cells) == 4
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {DEFAULT_KEY}"}
    assert DEFAULT_KEY.encode() not in child.raw + stderr


@pytest.mark.parametrize("how", ["cancel line", "end of input"])
def test_cancel_or_a_vanished_app_ends_the_run_and_keeps_cells(
    child: Child, vault_path: Path, server: ProviderServer, how: str
) -> None:
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("slow", ttft=30.0, chunks=1)  # would take 30 s
    child.send(_request(vault_path, server, cases=3).line())
    cells = 0
    while cells < 3:
        event = child.event()
        assert event is not None
        cells += event["event"] == "cell"
    if how == "cancel line":
        child.send(b"cancel\n")
    else:
        child.close_stdin()  # what the app's death looks like from here
    events = child.events_until({"run", "failed"})
    code, stderr = child.finish()
    assert code == 0, stderr.decode()
    run = events[-1]["run"]
    assert run["status"] == "cancelled"
    with Vault.open(vault_path) as vault:
        stored = RunStore(vault).load(uuid.UUID(run["id"]))
    assert stored.status == "cancelled" and len(stored.cells) == 3
    assert {c.key.model.model for c in stored.cells} == {"test-model"}


def test_an_unreadable_request_is_refused_with_a_hint_and_the_next_one_runs(
    child: Child, vault_path: Path, server: ProviderServer
) -> None:
    server.script("slow", ttft=0.0, chunks=1)
    child.send(b'{"vault": "x"}\n')
    events = child.events_until({"failed"})
    failure = error_from_event(FailedEvent.model_validate(events[-1]))
    assert isinstance(failure, UsageError) and "unreadable request" in failure.message
    assert "EngineRequest" in failure.hint
    child.send(_request(vault_path, server).line())
    assert child.events_until({"run", "failed"})[-1]["event"] == "run"
    code, stderr = child.finish()
    assert code == 0, stderr.decode()


def test_an_engine_error_is_reported_as_its_own_class(
    child: Child, vault_path: Path, server: ProviderServer
) -> None:
    request = _request(vault_path, server)
    spec = request.spec.model_copy(update={"version_ids": (uuid.uuid4(),)})
    child.send(request.model_copy(update={"spec": spec}).line())
    events = child.events_until({"failed", "run"})
    code, _ = child.finish()
    assert code == 0  # the run failed, the process did not
    failure = error_from_event(FailedEvent.model_validate(events[-1]))
    assert isinstance(failure, NotFoundError) and failure.message


def test_error_from_event_keeps_unexpected_errors_unexpected() -> None:
    bug = error_from_event(FailedEvent(error="KeyError", message="KeyError: 'x'"))
    assert isinstance(bug, RuntimeError) and "KeyError" in str(bug)
    other = error_from_event(FailedEvent(error="SecretError", message="m", hint="h", expected=True))
    assert type(other) is WorkbenchError and (other.message, other.hint) == ("m", "h")


def test_the_process_says_ready_then_serves_run_after_run(
    vault_path: Path, server: ProviderServer
) -> None:
    server.script("test-model", ttft=0.0, chunks=2)
    server.script("slow", ttft=0.0, chunks=1)
    child = Child("--vault", str(vault_path), "--actor", "ada")  # the vault opened ahead
    try:
        ready = child.event()
        assert ready == {"event": "ready", "pid": child.proc.pid, "protocol": PROTOCOL}
        runs = []
        for _ in range(3):
            child.send(_request(vault_path, server).line())
            events = child.events_until({"run", "failed"})
            assert events[-1]["event"] == "run", events[-1]
            assert sum(e["event"] == "cell" for e in events) == 4
            runs.append(events[-1]["run"])
        assert len({r["id"] for r in runs}) == 3 and {r["status"] for r in runs} == {"finished"}
        assert len(server.requests) == 12
        with Vault.open(vault_path) as vault:
            assert all(RunStore(vault).load(uuid.UUID(r["id"])).status == "finished" for r in runs)
        code, stderr = child.finish()
        assert code == 0, stderr.decode()
    finally:
        child.kill()


def test_a_cancel_ends_only_the_current_run(
    child: Child, vault_path: Path, server: ProviderServer
) -> None:
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("slow", ttft=30.0, chunks=1)
    child.send(_request(vault_path, server).line())
    while (event := child.event()) is not None and event["event"] != "cell":
        pass
    child.send(b"cancel\n")
    first = child.events_until({"run", "failed"})[-1]
    assert first["event"] == "run" and first["run"]["status"] == "cancelled"
    server.script("slow", ttft=0.0, chunks=1)
    child.send(_request(vault_path, server).line())
    second = child.events_until({"run", "failed"})[-1]
    assert second["event"] == "run" and second["run"]["status"] == "finished"
    code, stderr = child.finish()
    assert code == 0 and b"Traceback" not in stderr, stderr.decode()


def test_quit_ends_a_run_cleanly_and_the_process(
    child: Child, vault_path: Path, server: ProviderServer
) -> None:
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("slow", ttft=30.0, chunks=1)
    child.send(_request(vault_path, server).line())
    while (event := child.event()) is not None and event["event"] != "cell":
        pass
    child.send(b"quit\n")
    last = child.events_until({"run", "failed"})[-1]
    assert last["event"] == "run" and last["run"]["status"] == "cancelled"
    code, stderr = child.finish()
    assert code == 0 and b"Traceback" not in stderr, stderr.decode()


def test_every_line_the_child_writes_parses_as_one_typed_event(
    vault_path: Path, server: ProviderServer
) -> None:
    """The app reads the child's lines with the same models the child writes them with."""
    server.script("test-model", ttft=0.0, chunks=3)
    child = Child("--vault", str(vault_path))
    try:
        child.event()
        child.send(_request(vault_path, server).line())
        child.events_until({"run", "failed"})
        code, _ = child.finish()
    finally:
        child.kill()
    assert code == 0
    events = [parse_event(line) for line in child.raw.splitlines() if line.strip()]
    kinds = [e.event for e in events]
    assert kinds[0] == "ready" and kinds[-1] == "run" and "cell" in kinds
    last = events[-1]
    assert isinstance(last, RunEvent) and last.run.cells == ()  # written without its cells
