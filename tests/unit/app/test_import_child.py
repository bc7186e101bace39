"""The bundle import's child process, headless: a real ``python -m
workbench.app.import_child`` on a real vault file. It says each step, ends with the
report or a ``failed`` line that says what to do, imports all of a bundle or nothing of
it, and :class:`ImportProcess` ends it on cancel with the vault as it was."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.vault_scale import Zipf, make_bundle, vocabulary
from workbench.app.engine_child import FailedEvent
from workbench.app.import_child import (
    MODULE,
    DoneEvent,
    ImportCancelled,
    ImportProcess,
    StageEvent,
    parse_event,
)
from workbench.core.errors import ConflictError, InputError
from workbench.core.models import Message, PromptContent
from workbench.vault import Vault

DEADLINE_S = 120.0


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="system", template=text),))


def child(*args: str) -> tuple[int, list[bytes]]:
    done = subprocess.run(
        [sys.executable, "-m", MODULE, *args], capture_output=True, timeout=DEADLINE_S
    )
    return done.returncode, done.stdout.splitlines()


def test_the_child_says_each_step_and_ends_with_the_report(tmp_path: Path) -> None:
    source = Vault.open(tmp_path / "source.sqlite3", create=True, actor="ada")
    for i in range(3):
        source.commit(f"p{i}", content(f"v{i}"), "1")
        source.commit(f"p{i}", content(f"v{i} again"), "2")
    bundle = tmp_path / "three.json"
    bundle.write_text(source.export_bundle().model_dump_json(), encoding="utf-8")
    source.close()
    Vault.open(tmp_path / "vault.sqlite3", create=True).close()

    status, lines = child("--vault", str(tmp_path / "vault.sqlite3"), "--bundle", str(bundle))

    assert status == 0
    events = [parse_event(line) for line in lines]  # every line is one of the events
    stages = [e for e in events if isinstance(e, StageEvent)]
    assert [(e.stage, e.step, e.steps) for e in stages] == [("reading", 1, 2), ("writing", 2, 2)]
    assert stages[0].detail.startswith("three.json (")
    assert stages[1].describe() == "writing 6 versions of 3 prompts"
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert (done.report.prompts_created, done.report.versions_added) == (3, 6)
    with Vault.open(tmp_path / "vault.sqlite3") as vault:
        assert vault.prompt_names() == ["p0", "p1", "p2"]
        assert len(vault.history("p1")) == 2


def test_a_bad_bundle_imports_nothing_and_says_what_to_do(tmp_path: Path) -> None:
    """The clash is found inside the transaction, after a prompt of the bundle was
    added: that prompt is rolled back with the rest."""
    source = Vault.open(tmp_path / "source.sqlite3", create=True)
    source.commit("first", content("one"), "1")
    clash = source.commit("second", content("two"), "1")
    bundle = tmp_path / "clash.json"
    bundle.write_text(source.export_bundle().model_dump_json(), encoding="utf-8")
    source.close()
    path = tmp_path / "vault.sqlite3"
    with Vault.open(path, create=True) as vault:
        vault.commit("second", content("other"), "1")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE versions SET id=?", (str(clash.id),))  # same id, other content
    conn.commit()
    conn.close()

    status, lines = child("--vault", str(path), "--bundle", str(bundle))

    assert status == 1
    failed = parse_event(lines[-1])
    assert isinstance(failed, FailedEvent)
    assert failed.error == "ConflictError" and failed.expected
    assert "Nothing was imported" in failed.hint
    with Vault.open(path) as vault:
        assert vault.prompt_names() == ["second"]  # 'first' was rolled back too
        assert vault.integrity_check() == "ok"
    # Through ImportProcess, the app's side: the error itself, with its hint.
    with pytest.raises(ConflictError, match="differs between this vault") as raised:
        ImportProcess(path, bundle).run(lambda _e: None)
    assert "Nothing was imported" in raised.value.hint


def test_a_file_that_cannot_be_read_says_which_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite3"
    Vault.open(path, create=True).close()
    missing = tmp_path / "nowhere.json"
    with pytest.raises(InputError, match=r"cannot read .*nowhere\.json") as raised:
        ImportProcess(path, missing).run(lambda _e: None)
    assert raised.value.hint.startswith("Check that the file exists")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as raised:
        ImportProcess(path, broken).run(lambda _e: None)
    assert raised.value.hint


def test_cancel_ends_the_child_inside_its_transaction_and_the_vault_keeps_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(4)
    big = make_bundle(300, 10, rng, Zipf(vocabulary(500, rng), rng))  # 3,000 versions
    bundle = tmp_path / "big.json"
    bundle.write_text(big.model_dump_json(), encoding="utf-8")
    path = tmp_path / "vault.sqlite3"
    with Vault.open(path, create=True) as vault:
        vault.commit("mine", content("kept"), "1")
    job = ImportProcess(path, bundle)
    writing = threading.Event()
    outcome: list[BaseException] = []

    def on_stage(event: StageEvent) -> None:
        if event.stage == "writing":
            writing.set()

    def work() -> None:
        try:
            job.run(on_stage)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    assert writing.wait(DEADLINE_S)
    job.cancel()
    thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ImportCancelled)
    assert "Nothing was imported" in outcome[0].hint
    with Vault.open(path) as vault:
        assert vault.prompt_names() == ["mine"]
        assert vault.integrity_check() == "ok"


def test_lines_that_are_not_events_are_refused_by_the_parser() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        parse_event(json.dumps({"event": "stage", "stage": "dancing"}).encode())
