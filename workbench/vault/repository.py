"""The vault's repository API: prompts, versions, test cases, search, labels and the
audit log, each method one transaction. All SQL of the vault lives in this package: the
session functions beside this module (``prompts``, ``versions``, ``cases``, ``search``,
``labels``, ``audit``) and the stores (``transfer`` for bundles, ``sync_store``,
``runs`` with ``run_queries`` and ``spending``; and in migrations). The stores call the
session functions inside their own transaction of :meth:`Vault.writing`.

Every multi-row change is one ``BEGIN IMMEDIATE`` transaction: a crash at any
instant leaves the vault as it was before or after the change, never between.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workbench.core.errors import (
    DuplicateError,
    IdenticalCommitError,
    NotFoundError,
    UsageError,
)
from workbench.core.models import (
    AuditEvent,
    Label,
    LabelEvent,
    Prompt,
    PromptContent,
    PromptSummary,
    PromptVersion,
    SearchHit,
    utcnow,
)
from workbench.core.models import (
    heads as find_heads,
)
from workbench.core.runs import TestCase
from workbench.core.templating import validate_content
from workbench.vault import audit, files, labels, search
from workbench.vault.actor import default_author
from workbench.vault.bundle import Bundle
from workbench.vault.cases import read_cases, write_cases
from workbench.vault.db import open_engine
from workbench.vault.labels import UNSET
from workbench.vault.prompts import check_name, insert_prompt, list_page, prompt_row, to_prompt
from workbench.vault.refs import resolve_ref
from workbench.vault.run_log import RunLog
from workbench.vault.schema import PromptRow, SyncStateRow, VersionRow
from workbench.vault.versions import history, insert_version, versions_in

if TYPE_CHECKING:
    from workbench.vault.transfer import ImportReport


class Vault:
    """A local prompt vault in one SQLite file: the API the app and the CLI call.

    ``audit_in`` is the one store method that takes a ``Session``: it appends an audit
    event as this vault's actor, inside the caller's transaction.
    """

    def __init__(self, engine: Engine, path: Path, actor: str | None = None) -> None:
        self.engine = engine
        self.path = path
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(immediate=True), expire_on_commit=False)
        self._run_log: RunLog | None = None
        registry_user = None if actor else self.registry_user()
        self.actor = actor or registry_user or default_author()
        self.actor_source: Literal["given", "registry", "default"] = (
            "given" if actor else "registry" if registry_user else "default"
        )
        """Where ``actor`` came from: the caller, the registry login, or the fallback
        (``WORKBENCH_AUTHOR`` or the OS login), which the app replaces by asking once."""

    @classmethod
    def open(cls, path: Path, *, create: bool = False, actor: str | None = None) -> Vault:
        return cls(open_engine(path, create=create), path, actor)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def read_only(self) -> bool:
        """Opened from a read-only disk or without write permission: it reads, and every
        change is refused with a clear error."""
        return bool(self.engine.get_execution_options().get("read_only_vault"))

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE); commits on success, else rolls back."""
        if self.read_only:
            raise files.read_only_refused(self.path)
        try:
            with self._write() as session, session.begin():
                yield session
        except OperationalError as exc:
            refused = files.write_refused(self.path, str(exc.orig))
            if refused is None:
                raise
            raise refused from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def raw_reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction's ``sqlite3`` connection, for the plain-SQL run log."""
        with self.reading() as s:
            yield _driver(s)

    @contextmanager
    def raw_writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction's (``BEGIN IMMEDIATE``) ``sqlite3`` connection."""
        with self.writing() as s:
            yield _driver(s)

    def run_log(self) -> RunLog:
        """The engine's run log over this vault (one per vault: it sweeps orphans once)."""
        if self._run_log is None:
            self._run_log = RunLog(self)
        return self._run_log

    def registry_user(self) -> str | None:
        """The registry login this vault last synced as (None before any sync).

        Versions are the registry's token user's once pushed, so this is who commits."""
        with self.reading() as s:
            return s.scalar(select(SyncStateRow.value).where(SyncStateRow.key == "registry_user"))

    # ---- prompts ---------------------------------------------------------------------

    def create_prompt(self, name: str) -> Prompt:
        check_name(name)
        with self.writing() as s:
            if s.scalar(select(PromptRow.id).where(PromptRow.name == name)) is not None:
                raise DuplicateError(
                    f"a prompt named {name!r} already exists",
                    hint="Commit a new version to it instead, or pick another name.",
                )
            row = insert_prompt(s, name, utcnow())
            self.audit_in(s, "prompt.create", name, {})
            return to_prompt(row)

    def get_prompt(self, name: str) -> Prompt:
        with self.reading() as s:
            return to_prompt(prompt_row(s, name))

    def set_archived(self, name: str, archived: bool = True) -> None:
        with self.writing() as s:
            row = prompt_row(s, name)
            row.archived = archived
            self.audit_in(s, "prompt.archive" if archived else "prompt.unarchive", name, {})

    def prompt_names(self, include_archived: bool = True) -> list[str]:
        with self.reading() as s:
            q = select(PromptRow.name).order_by(PromptRow.name)
            if not include_archived:
                q = q.where(PromptRow.archived.is_(False))
            return list(s.scalars(q))

    def count_prompts(self) -> int:
        with self.reading() as s:
            return int(s.scalar(select(func.count(PromptRow.id))) or 0)

    def list_prompts(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        prefix: str = "",
        tag: str | None = None,
        label: str | None = None,
        has_drafts: bool | None = None,
        include_archived: bool = False,
    ) -> list[PromptSummary]:
        """A page of prompts by name with their version counts, labels and latest tags."""
        with self.reading() as s:
            return list_page(
                s,
                offset=offset,
                limit=limit,
                prefix=prefix,
                tag=tag,
                label=label,
                has_drafts=has_drafts,
                include_archived=include_archived,
            )

    # ---- versions --------------------------------------------------------------------

    def commit(
        self,
        name: str,
        content: PromptContent,
        message: str,
        *,
        author: str | None = None,
        parents: Sequence[uuid.UUID] | None = None,
        create: bool = True,
    ) -> PromptVersion:
        """Record a new immutable version of ``name``.

        ``parents`` defaults to the prompt's latest version. A commit whose content
        equals a parent's is refused: it would record nothing new.
        """
        check_name(name)
        if not message.strip():
            raise UsageError(
                "a commit needs a message saying what changed",
                hint='Add one, e.g. -m "Shorter system prompt"',
            )
        validate_content(content)
        content_hash = content.content_hash()
        with self.writing() as s:
            prow = s.scalar(select(PromptRow).where(PromptRow.name == name))
            if prow is None:
                if not create:
                    prompt_row(s, name)  # raises NotFoundError
                prow = insert_prompt(s, name, utcnow())
                self.audit_in(s, "prompt.create", name, {})
            if parents is None:
                last = s.scalar(
                    select(VersionRow.id)
                    .where(VersionRow.prompt_id == prow.id)
                    .order_by(VersionRow.seq.desc())
                    .limit(1)
                )
                parent_ids = [last] if last else []
            else:
                parent_ids = [str(p) for p in parents]
            for pid in parent_ids:
                prow_parent = s.scalar(select(VersionRow).where(VersionRow.id == pid))
                if prow_parent is None or prow_parent.prompt_id != prow.id:
                    raise NotFoundError(
                        f"parent version {pid} is not a version of {name!r}",
                        hint=f"See the versions with: workbench vault history {name}",
                    )
                if prow_parent.content_hash == content_hash:
                    raise IdenticalCommitError(
                        f"nothing to commit: the content is identical to its parent "
                        f"{pid[:8]} of {name!r}",
                        hint="Change a message, a model setting, a variable or a tag first.",
                    )
            stored = s.scalar(
                select(func.count()).select_from(VersionRow).where(VersionRow.prompt_id == prow.id)
            )
            version = PromptVersion(
                prompt=name,
                content=content,
                content_hash=content_hash,
                message=message.strip(),
                author=author or self.actor,
                parent_ids=tuple(uuid.UUID(p) for p in parent_ids),
                local_ordinal=int(stored or 0) + 1,
            )
            insert_version(s, prow, version)
            self.audit_in(
                s, "version.commit", name, {"version": str(version.id), "hash": content_hash}
            )
            return version

    def history(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first."""
        with self.reading() as s:
            return history(s, prompt_row(s, name))

    def heads(self, name: str) -> list[PromptVersion]:
        """Versions nobody builds on: one normally, several after a fork."""
        return find_heads(self.history(name))

    def get_version(self, name: str, ref: str = "latest") -> PromptVersion:
        """Resolve ``ref``: 'latest', 'vN' (registry number), a label, a full or short id."""
        with self.reading() as s:
            versions = history(s, prompt_row(s, name))
            named = {lab.name: lab.version_id for lab in labels.labels_of(s, name)}
        return resolve_ref(name, versions, named, ref)

    def version_by_id(self, version_id: uuid.UUID) -> PromptVersion:
        with self.reading() as s:
            row = s.scalar(select(VersionRow).where(VersionRow.id == str(version_id)))
            if row is None:
                raise NotFoundError(f"no version {version_id} in this vault")
            return versions_in(s, [row])[0]

    def set_number(self, version_id: uuid.UUID, number: int, author: str | None = None) -> None:
        """Record the registry's number for a pushed version (sync uses this), and its
        author as the registry knows it (the token's user; not part of the content)."""
        values: dict[str, Any] = {"number": number}
        if author:
            values["author"] = author
        with self.writing() as s:
            s.execute(update(VersionRow).where(VersionRow.id == str(version_id)).values(**values))

    # ---- test cases ------------------------------------------------------------------
    def test_cases(self, name: str) -> list[TestCase]:
        """The prompt's test cases, in table order (empty for an unknown prompt)."""
        with self.reading() as s:
            return read_cases(s, name)

    def set_test_cases(self, name: str, cases: Sequence[TestCase]) -> None:
        """Replace the prompt's test cases in one transaction (the prompt is created if new)."""
        check_name(name)
        with self.writing() as s:
            prow = s.scalar(select(PromptRow).where(PromptRow.name == name))
            if prow is None:
                prow = insert_prompt(s, name, utcnow())
            write_cases(s, prow.id, cases)
            self.audit_in(s, "cases.set", name, {"cases": len(cases)})

    # ---- search ----------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search over names, tags, commit messages and every version's templates.

        One hit per prompt, best first; every word must match (as a prefix).
        """
        with self.reading() as s:
            return search.search(s, query, limit)

    # ---- labels ----------------------------------------------------------------------

    def labels(self, name: str) -> list[Label]:
        with self.reading() as s:
            return labels.labels_of(s, name)

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Every recorded move of the prompt's labels, oldest first: the registry's (as of
        the last sync, from its audit log) and this vault's local ones."""
        with self.reading() as s:
            return labels.label_history(s, name, label)

    def move_label(
        self,
        name: str,
        label: str,
        version_id: uuid.UUID | None,
        *,
        expected: uuid.UUID | None = UNSET,
        reason: str = "",
    ) -> Label | None:
        """Point ``label`` at ``version_id``, compare-and-swap style: see
        :func:`workbench.vault.labels.move_label` (it checks the label's name)."""
        with self.writing() as s:
            return labels.move_label(
                s, self.actor, name, label, version_id, expected=expected, reason=reason
            )

    # ---- audit -----------------------------------------------------------------------

    def audit_in(self, s: Session, action: str, subject: str, detail: dict[str, Any]) -> None:
        audit.append(s, self.actor, action, subject, detail)

    def record_event(self, action: str, subject: str, detail: dict[str, Any]) -> None:
        """Append an audit event from another layer (e.g. a keychain read: never the value)."""
        with self.writing() as s:
            self.audit_in(s, action, subject, detail)

    def audit_events(self, limit: int | None = None) -> list[AuditEvent]:
        with self.reading() as s:
            return audit.events(s, limit)

    def verify_audit(self) -> int | None:
        """Walk the hash chain; return the seq of the first broken entry, or None if intact."""
        return audit.first_broken(self.audit_events())

    # ---- export / import (workbench.vault.transfer) -----------------------------------

    def export_bundle(self, names: Sequence[str] | None = None) -> Bundle:
        from workbench.vault.transfer import Transfer

        return Transfer(self).export_bundle(names)

    def import_bundle(self, bundle: Bundle) -> ImportReport:
        """Add what the bundle has and the vault lacks, in one transaction (see
        :meth:`workbench.vault.transfer.Transfer.import_bundle`)."""
        from workbench.vault.transfer import Transfer

        return Transfer(self).import_bundle(bundle)

    def integrity_check(self) -> str:
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())


def registry_url_in(s: Session) -> str | None:
    """The registry this vault syncs with (:meth:`SyncStore.bind_registry`), if any."""
    return s.scalar(select(SyncStateRow.value).where(SyncStateRow.key == "registry_url"))


def _driver(s: Session) -> sqlite3.Connection:
    """The ``sqlite3`` connection under ``s``, in its transaction."""
    return cast("sqlite3.Connection", s.connection().connection.driver_connection)
