"""The vault on the run path, in plain SQL over the standard library's ``sqlite3``:
what ``workbench compare`` and ``eval`` need to plan and record a run (its versions,
test cases and labels; the audit of a key read; the run log), without importing
SQLAlchemy, which alone costs a one-call compare 0.44 s of its 1.2 s here
(``bench/matrix.py``).

:meth:`DirectVault.open` takes only a vault that is already at this release's schema;
anything else (a new file, one to migrate, one from a newer release) is left to
:class:`~workbench.vault.repository.Vault`, which creates, migrates or refuses it with
its own messages. What the run path does not cover is reached through
:meth:`DirectVault.orm`, the full vault opened on first use (a prompt with variables
bound to data sources, say). Both read the same tables; ``tests/unit/test_vault_direct.py``
checks they give the same answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.core.errors import NotFoundError
from workbench.core.models import (
    AuditEvent,
    PromptContent,
    PromptVersion,
    canonical_json,
    utcnow,
)
from workbench.core.runs import TestCase
from workbench.vault import files
from workbench.vault.actor import default_author
from workbench.vault.refs import resolve_ref
from workbench.vault.run_log import RunLog, db_time, from_db_time

if TYPE_CHECKING:
    from workbench.vault.repository import Vault

GENESIS_HASH = "0" * 64
"""The audit chain's first ``prev_hash`` (as ``vault.audit`` has it)."""

_VERSION_COLUMNS = "v.seq, v.id, v.prompt_id, p.name, v.content, v.content_hash, "
_VERSION_COLUMNS += "v.message, v.author, v.created_at, v.number"


class DirectVault:
    """A vault file at this release's schema, for the run path (see the module doc).

    One connection, used by one thread at a time (the engine's loop and its vault
    writer both use it): each method is one transaction under a lock."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._conn = conn
        self._lock = threading.RLock()
        self._orm: Vault | None = None
        self._log: RunLog | None = None
        registry_user = self._sync_value("registry_user")
        self.actor: str = registry_user or default_author()
        self.actor_source: Literal["given", "registry", "default"] = (
            "registry" if registry_user else "default"
        )

    @classmethod
    def open(cls, path: Path, *, actor: str | None = None) -> DirectVault | None:
        """The vault at ``path`` if it exists at this release's schema; else None (the
        full :class:`Vault` creates, migrates or refuses it)."""
        path = path.expanduser()
        if not (path.is_file() and path.stat().st_size > 0):
            return None
        read_only = not files.writable(path)
        files.check_file(path, read_only)
        if read_only:
            conn = sqlite3.connect(files.read_only_uri(path), uri=True, check_same_thread=False)
            files.configure_read_only(conn)
        else:
            conn = sqlite3.connect(path, check_same_thread=False)
            files.configure_connection(conn)
        if files.current_revision(conn) != files.HEAD_REVISION:
            conn.close()
            return None
        vault = cls(path, conn, read_only=read_only)
        if actor:
            vault.actor, vault.actor_source = actor, "given"
        return vault

    def close(self) -> None:
        if self._orm is not None:
            self._orm.close()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> DirectVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def orm(self) -> Vault:
        """The full vault over the same file, opened (and SQLAlchemy imported) on first use."""
        if self._orm is None:
            from workbench.vault.repository import Vault

            self._orm = Vault.open(self.path, actor=self.actor)
        return self._orm

    # ---- transactions (run_log.Connections) ------------------------------------------

    @contextmanager
    def raw_reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("ROLLBACK")

    @contextmanager
    def raw_writing(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled
        back on any error (a busy vault or a full disk say so, as the full vault does)."""
        if self.read_only:
            raise files.read_only_refused(self.path)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                refused = files.write_refused(self.path, str(exc))
                if refused is None:
                    raise
                raise refused from exc

    def run_log(self) -> RunLog:
        if self._log is None:
            self._log = RunLog(self)
        return self._log

    # ---- reads -----------------------------------------------------------------------

    def _sync_value(self, key: str) -> str | None:
        with self.raw_reading() as conn:
            row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _prompt_id(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT id FROM prompts WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no prompt named {name!r}",
                hint="List prompts with: workbench vault list (or search with vault search)",
            )
        return int(row[0])

    def history(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first."""
        with self.raw_reading() as conn:
            return self._history(conn, self._prompt_id(conn, name))

    def _history(self, conn: sqlite3.Connection, prompt_id: int) -> list[PromptVersion]:
        rows = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN prompts p ON p.id = v.prompt_id "  # noqa: S608
            "WHERE v.prompt_id = ? ORDER BY v.seq",
            (prompt_id,),
        ).fetchall()
        return _versions(conn, rows, {r[0]: i for i, r in enumerate(rows, 1)})

    def get_version(self, name: str, ref: str = "latest") -> PromptVersion:
        """Resolve ``ref``: 'latest', 'vN' (registry number), a label, a full or short id."""
        with self.raw_reading() as conn:
            prompt_id = self._prompt_id(conn, name)
            versions = self._history(conn, prompt_id)
            named = {
                label: uuid.UUID(vid)
                for label, vid in conn.execute(
                    "SELECT name, version_id FROM labels WHERE prompt_id = ?", (prompt_id,)
                )
            }
        return resolve_ref(name, versions, named, ref)

    def version_by_id(self, version_id: uuid.UUID) -> PromptVersion:
        with self.raw_reading() as conn:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN prompts p ON p.id = v.prompt_id "  # noqa: S608
                "WHERE v.id = ?",
                (str(version_id),),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no version {version_id} in this vault")
            ordinals: dict[int, int] = {}
            if row[9] is None:  # a draft: its place in its prompt's history
                (n,) = conn.execute(
                    "SELECT count(*) FROM versions WHERE prompt_id = ? AND seq <= ?",
                    (row[2], row[0]),
                ).fetchone()
                ordinals[row[0]] = int(n)
            return _versions(conn, [row], ordinals)[0]

    def test_cases(self, name: str) -> list[TestCase]:
        """The prompt's test cases, in table order (empty for an unknown prompt)."""
        with self.raw_reading() as conn:
            rows = conn.execute(
                "SELECT c.name, c.vals, c.assertions FROM test_cases c "
                "JOIN prompts p ON p.id = c.prompt_id WHERE p.name = ? ORDER BY c.position",
                (name,),
            ).fetchall()
        return [
            TestCase(name=n, values=json.loads(v), assertions=json.loads(a)) for n, v, a in rows
        ]

    # ---- the audit log ---------------------------------------------------------------

    def record_event(self, action: str, subject: str, detail: dict[str, Any]) -> None:
        """Append an audit event (e.g. a keychain read: never the value), chained to the
        newest one as ``vault.audit.append`` does."""
        with self.raw_writing() as conn:
            prev = conn.execute(
                "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev_hash = prev[0] if prev else GENESIS_HASH
            at = utcnow()
            digest = AuditEvent.compute_hash(prev_hash, at, self.actor, action, subject, detail)
            conn.execute(
                "INSERT INTO audit_events (at, actor, action, subject, detail, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    db_time(at), self.actor, action, subject,
                    canonical_json(detail).decode("utf-8"), prev_hash, digest,
                ),
            )  # fmt: skip


def _versions(
    conn: sqlite3.Connection, rows: Sequence[Any], ordinals: dict[int, int]
) -> list[PromptVersion]:
    """``PromptVersion``s of version rows (``_VERSION_COLUMNS``), with their parents."""
    parents: dict[str, list[tuple[int, str]]] = {}
    ids = [r[1] for r in rows]
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        for vid, pid, pos in conn.execute(
            "SELECT version_id, parent_id, position FROM version_parents "  # noqa: S608
            f"WHERE version_id IN ({', '.join('?' * len(part))})",
            part,
        ):
            parents.setdefault(vid, []).append((pos, pid))
    return [
        PromptVersion(
            id=uuid.UUID(vid),
            prompt=name,
            content=PromptContent.model_validate_json(content),
            content_hash=content_hash,
            message=message,
            author=author,
            created_at=from_db_time(created),
            parent_ids=tuple(uuid.UUID(p) for _, p in sorted(parents.get(vid, []))),
            number=number,
            local_ordinal=ordinals.get(seq) if number is None else None,
        )
        for seq, vid, _pid, name, content, content_hash, message, author, created, number in rows
    ]
