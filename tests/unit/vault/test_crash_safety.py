"""kill -9 a process that commits versions in a loop; the vault must stay whole.

The child reports each version only after ``commit`` returned; every reported
version must be present and byte-identical afterwards, and ``integrity_check`` ok.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sqlite3
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from workbench.core.models import canonical_json
from workbench.vault import Vault

from .conftest import make_content

TRIALS = 50


def _commit_forever(path: str, trial: int, conn: Connection) -> None:
    vault = Vault.open(Path(path), create=True, actor="crash")
    i = 0
    while True:
        content = make_content(system=f"trial {trial} step {i} for {{{{ customer }}}}")
        v = vault.commit(f"crash/t{trial % 5}", content, f"step {i}", parents=None)
        conn.send((str(v.id), v.content_hash, canonical_json(v.content.canonical())))
        i += 1


@pytest.mark.slow
def test_kill_9_during_commits_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite3"
    Vault.open(path, create=True).close()
    ctx = mp.get_context("fork")
    rng = random.Random(1234)
    reported: dict[str, tuple[str, bytes]] = {}
    for trial in range(TRIALS):
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_commit_forever, args=(str(path), trial, child_end), daemon=True)
        proc.start()
        child_end.close()
        wanted = rng.randint(1, 12)
        got = 0
        while got < wanted and parent_end.poll(10):
            vid, h, body = parent_end.recv()
            reported[vid] = (h, body)
            got += 1
        assert got == wanted, f"trial {trial}: child stopped reporting"
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)  # mid-way through a later commit, most likely
        proc.join(10)
        while parent_end.poll(0):  # reports sent just before the kill count too
            try:
                vid, h, body = parent_end.recv()
            except EOFError:
                break
            reported[vid] = (h, body)
        parent_end.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = {
        vid: (h, c.encode())
        for vid, h, c in raw.execute("SELECT id, content_hash, content FROM versions")
    }
    raw.close()
    assert len(reported) >= TRIALS
    missing = [vid for vid in reported if vid not in rows]
    assert missing == []
    for vid, (h, body) in reported.items():
        assert rows[vid] == (h, body)
    with Vault.open(path) as vault:
        assert vault.verify_audit() is None
        assert vault.integrity_check() == "ok"


def test_a_vault_held_by_another_writer_is_a_clear_busy_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock longer than the wait: the commit is refused
    saying so (exit 3, could not run), not a raw 'database is locked'; nothing written."""
    import sqlite3

    from workbench.core.errors import EXIT_COULD_NOT_RUN, VaultBusyError
    from workbench.core.models import Message, PromptContent
    from workbench.vault import files

    monkeypatch.setattr(files, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "v.sqlite3"
    with Vault.open(path, create=True, actor="ada") as vault:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            content = PromptContent(messages=(Message(role="user", template="hi"),))
            with pytest.raises(VaultBusyError) as busy:
                vault.commit("p", content, "first")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert busy.value.exit_code == EXIT_COULD_NOT_RUN
        assert "is busy" in busy.value.message and "nothing was written" in busy.value.message
        assert "0.2 s" in busy.value.message
        assert vault.list_prompts() == []
        vault.commit("p", content, "first")  # the lock gone, it goes in
        assert len(vault.history("p")) == 1
