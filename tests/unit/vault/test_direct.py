"""The plain-SQL run path (``vault.direct``, ``vault.run_log``) against the ORM vault on
the same file: the same versions for every kind of reference, the same test cases, a
run it records read back whole by the ORM side, an audit chain that still verifies;
the same refusals; and ``workbench compare`` never importing SQLAlchemy."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.providerserver import DEFAULT_KEY, ProviderServer
from workbench.core.errors import NotAVaultError, NotFoundError, UsageError, VaultBusyError
from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellResult, ModelRef, RunSpec, TestCase
from workbench.engine.runner import Engine
from workbench.vault import Vault, files
from workbench.vault.direct import DirectVault
from workbench.vault.runs import RunStore

from .test_read_only_and_newer import read_only_copy

ROOT = Path(__file__).resolve().parents[3]


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text + " {{ topic }}"),))


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A vault with pushed versions and drafts, a fork, labels and test cases."""
    path = tmp_path / "v.sqlite3"
    with Vault.open(path, create=True, actor="ada") as vault:
        v1 = vault.commit("p", content("one"), "first")
        v2 = vault.commit("p", content("two"), "second")
        vault.move_label("p", "production", v1.id, reason="launch")  # before it syncs
        vault.set_number(v1.id, 1, author="ada@registry")
        vault.set_number(v2.id, 2)
        vault.commit("p", content("three"), "a draft")
        vault.commit("p", content("fork"), "a fork", parents=[v1.id])
        vault.commit("other", content("x"), "another prompt")
        vault.set_test_cases(
            "p",
            [
                TestCase(name="owls", values={"topic": "owls"}),
                TestCase(
                    name="bats",
                    values={"topic": "bats"},
                    assertions=[{"type": "contains", "value": "bat"}],
                ),
            ],
        )
    return path


def test_every_reference_resolves_to_the_same_version(filled: Path) -> None:
    with Vault.open(filled) as orm, DirectVault.open(filled) as direct:  # type: ignore[union-attr]
        history = orm.history("p")
        assert direct.history("p") == history
        refs = ["latest", "v1", "v2", "draft 3", "draft 4", "production"]
        refs += [v.id.hex[:8] for v in history] + [str(v.id) for v in history]
        for ref in refs:
            assert direct.get_version("p", ref) == orm.get_version("p", ref), ref
        for v in history + orm.history("other"):
            assert direct.version_by_id(v.id) == orm.version_by_id(v.id)
        assert direct.test_cases("p") == orm.test_cases("p")
        assert direct.test_cases("nobody") == orm.test_cases("nobody") == []
        assert (direct.actor, direct.actor_source) == (orm.actor, orm.actor_source)


def test_the_same_refusals_as_the_full_vault(filled: Path) -> None:
    unknown = uuid.uuid4()
    with Vault.open(filled) as orm, DirectVault.open(filled) as direct:  # type: ignore[union-attr]
        for call in (
            lambda v: v.get_version("nobody"),
            lambda v: v.get_version("p", "v9"),
            lambda v: v.version_by_id(unknown),
        ):
            with pytest.raises(NotFoundError) as a:
                call(orm)
            with pytest.raises(NotFoundError) as b:
                call(direct)
            assert (str(a.value), a.value.hint) == (str(b.value), b.value.hint)


def test_a_run_it_records_is_the_run_the_orm_side_reads(filled: Path) -> None:
    with DirectVault.open(filled) as direct:  # type: ignore[union-attr]
        version = direct.get_version("p")
        spec = RunSpec(
            prompt="p",
            version_ids=(version.id,),
            models=(ModelRef.parse("echo:echo"),),
            cases=tuple(direct.test_cases("p")),
            repeats=2,
        )
        run = asyncio.run(Engine(direct, {}).run(spec))
        direct.record_event("key.read", "OPENAI_KEY", {"source": "env"})
    with Vault.open(filled) as orm:
        store = RunStore(orm)
        stored = store.load(run.id)
        assert stored.status == "finished"

        def order(c: CellResult) -> tuple[int, int]:
            return c.key.case_index, c.key.repeat

        assert sorted(stored.cells, key=order) == sorted(run.cells, key=order)
        assert store.count_cells(run.id) == 4
        assert store.summary_rows(run.id, version.id) is not None
        [group] = store.costs_by("prompt")
        assert group.calls == 4
        assert orm.verify_audit() is None  # the direct side's event extends the chain
        assert orm.audit_events()[-1].action == "key.read"
        # A second run of the same requests replays the cache the first one wrote.
        again = asyncio.run(Engine(orm, {}).run(spec.model_copy(update={"use_cache": True})))
        assert all(c.cached for c in again.cells)


def test_a_file_it_cannot_take_is_left_to_the_full_vault(tmp_path: Path) -> None:
    assert DirectVault.open(tmp_path / "new.sqlite3") is None  # the full vault creates it
    old = tmp_path / "old.sqlite3"
    with Vault.open(old, create=True):
        pass
    conn = sqlite3.connect(old)
    conn.execute("UPDATE alembic_version SET version_num = '0011'")
    conn.commit()
    conn.close()
    assert DirectVault.open(old) is None  # the full vault migrates it
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(NotAVaultError):
        DirectVault.open(junk)


def test_a_read_only_vault_reads_and_refuses_writes(filled: Path, tmp_path: Path) -> None:
    with read_only_copy(filled, tmp_path) as ro, DirectVault.open(ro) as direct:  # type: ignore[union-attr]
        assert direct.read_only and direct.get_version("p", "v1").number == 1
        with pytest.raises(UsageError, match="is read-only") as refused:
            direct.record_event("x", "y", {})
        assert "Copy it somewhere you can write" in refused.value.hint


def test_a_busy_vault_is_refused_with_nothing_written(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(filled, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with DirectVault.open(filled) as direct:  # type: ignore[union-attr]
            before = direct.history("p")
            with pytest.raises(VaultBusyError, match="busy") as err:
                direct.record_event("x", "y", {})
            assert err.value.hint == "Run it again when that has finished."
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Vault.open(filled) as orm:
        assert orm.history("p") == before
        assert [e.action for e in orm.audit_events()].count("x") == 0


def test_compare_from_the_command_line_imports_no_orm_httpx_or_regex(
    filled: Path, tmp_path: Path
) -> None:
    """A compare against a real (local) OpenAI-compatible server, as a user runs it, the
    second time: the first run, with no price cache yet, imports genai-prices (and with
    it httpx) once to price the model."""
    probe = (
        "import sys\n"
        "from workbench.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "unused = {'sqlalchemy', 'alembic', 'httpx', 'httpcore', 'regex'}\n"
        "print(sorted(set(sys.modules) & unused))\n"  # httpx._main: workbench's own stub
        "sys.exit(code)\n"
    )
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WB_PROBE_KEY": DEFAULT_KEY}
    env.pop("WORKBENCH_VAULT", None)

    def workbench(*argv: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        command = (
            [sys.executable, "-c", code, *argv]
            if code
            else [sys.executable, "-m", "workbench", *argv]
        )
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    with ProviderServer() as server:
        added = workbench(
            "provider", "add", "local", "--family", "openai",
            "--base-url", server.base_url("openai"), "--key-env", "WB_PROBE_KEY",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        argv = ["--vault", str(filled), "compare", "p", "--models", "local:gpt-4o-mini", "--json"]
        runs = [workbench(*argv, code=probe) for _ in range(2)]
    for done in runs:
        assert done.returncode == 0, done.stderr
    assert runs[1].stdout.strip().splitlines()[-1] == "[]"
