"""The vault's repository API: prompts, versions, test cases, search, labels and the
audit log. All SQL of the vault lives in this package (here, in the stores beside it:
``transfer`` for bundles, ``sync_store``, ``runs``; and in migrations).

Every multi-row change is one ``BEGIN IMMEDIATE`` transaction: a crash at any
instant leaves the vault as it was before or after the change, never between.
"""

from __future__ import annotations

import getpass
import itertools
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workbench.core.errors import (
    DuplicateError,
    IdenticalCommitError,
    NotFoundError,
    StaleLabelError,
    UsageError,
    VaultBusyError,
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
    canonical_json,
    utcnow,
    validate_label_name,
    validate_prompt_name,
)
from workbench.core.models import (
    heads as find_heads,
)
from workbench.core.runs import TestCase
from workbench.core.templating import validate_content
from workbench.vault import db
from workbench.vault.bundle import (
    Bundle,
    BundleVersion,
)
from workbench.vault.db import open_engine
from workbench.vault.schema import (
    AuditRow,
    LabelEventRow,
    LabelRow,
    PromptRow,
    SyncStateRow,
    TestCaseRow,
    VersionParentRow,
    VersionRow,
)

if TYPE_CHECKING:
    from workbench.vault.transfer import ImportReport

GENESIS_HASH = "0" * 64
_UNSET: Any = object()
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def default_author() -> str:
    """Who commits when nothing better is known: ``WORKBENCH_AUTHOR`` or the OS login.

    A vault that has synced knows better: its registry login (see :class:`Vault`)."""
    env = os.environ.get("WORKBENCH_AUTHOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def fts_query(user_text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: every word must match.

    The last word also matches as a prefix (search as you type); the others match
    whole, which keeps multi-word queries on the index's fast path.
    """
    words = _WORD_RE.findall(user_text)
    if not words:
        return ""
    return " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])


_INSERT_DOC = text(
    "INSERT INTO search_index(rowid, prompt, tags, messages, templates, history) "
    "VALUES (:id, :p, :t, :m, :tpl, :h)"
)


INDEXED_TEMPLATE_CHARS = 4_000
"""How much of the newest text is indexed word by word (and shown in snippets): a page.
The rest is found through ``history``'s distinct words. FTS5's snippet() grows faster
than linearly with a column's matches: over a whole 1 MB prompt a search that found it
took seconds, over 20,000 characters ~70 ms, over 4,000 under 10 ms."""
INDEXED_WORDS = 50_000
"""Distinct words kept per prompt in ``history``: more than any prose prompt has; a
prompt of random tokens (pasted data) keeps its first 50,000."""


class SearchDoc:
    """The text a prompt is found by.

    ``templates`` is the start of the newest version's text (what snippets show);
    ``history`` holds each distinct word of every version's templates once, so old
    wording, and the rest of a long prompt, stay findable without storing 20
    near-copies of a prompt. Both are bounded, so a query costs about the same
    whatever the size of the prompts it finds.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.tags: dict[str, None] = {}
        self.messages: dict[str, None] = {}
        self.latest = ""
        self.words: dict[str, None] = {}

    def add(self, v: PromptVersion | BundleVersion) -> None:
        self.tags.update(dict.fromkeys(v.content.tags))
        if v.message:
            self.messages[v.message.replace("\n", " ")] = None
        self.latest = "\n".join(m.template for m in v.content.messages)
        self.words.update(dict.fromkeys(_WORD_RE.findall(self.latest.lower())))

    def params(self) -> dict[str, str]:
        return {
            "p": self.name,
            "t": " ".join(self.tags),
            "m": "\n".join(k for k in self.messages if k),
            "tpl": self.latest[:INDEXED_TEMPLATE_CHARS],
            "h": " ".join(itertools.islice(self.words, INDEXED_WORDS)),
        }


class Vault:
    """A local prompt vault in one SQLite file.

    Methods that take a ``Session`` (``prompt_row``, ``insert_prompt``,
    ``insert_version``, ``versions_in``, ``write_cases``, ``audit_in``, ...) are the
    store API: the vault's other stores (``sync_store``, ``runs``, ``transfer``) use
    them to do their part inside one transaction of ``writing()``. Everything else is
    the API the app and the CLI call.
    """

    def __init__(self, engine: Engine, path: Path, actor: str | None = None) -> None:
        self.engine = engine
        self.path = path
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(immediate=True), expire_on_commit=False)
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
            raise UsageError(
                f"the vault at {self.path} is read-only (a read-only disk, or no permission "
                "to write it or its folder): it can be read, not changed",
                hint="Copy it somewhere you can write, or fix its permissions, and use "
                "--vault COPY.",
            )
        try:
            with self._write() as session, session.begin():
                yield session
        except OperationalError as exc:
            if "database is locked" in str(exc.orig):
                raise VaultBusyError(
                    f"the vault ({self.path}) is busy: another writer (an import, a sync, "
                    f"another workbench process) held it for {db.BUSY_TIMEOUT_S:g} s; "
                    "nothing was written",
                    hint="Run it again when that has finished.",
                ) from exc
            if "database or disk is full" not in str(exc.orig):
                raise
            # SQLite rolled the transaction back: the vault is as it was before.
            raise UsageError(
                f"the disk holding the vault ({self.path}) is full: nothing was written",
                hint="Free some space (or move the vault with --vault) and run it again.",
            ) from exc

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def registry_user(self) -> str | None:
        """The registry login this vault last synced as (None before any sync).

        Versions are the registry's token user's once pushed, so this is who commits."""
        with self.reading() as s:
            return s.scalar(select(SyncStateRow.value).where(SyncStateRow.key == "registry_user"))

    # ---- prompts ---------------------------------------------------------------------

    def prompt_row(self, s: Session, name: str) -> PromptRow:
        row = s.scalar(select(PromptRow).where(PromptRow.name == name))
        if row is None:
            raise NotFoundError(
                f"no prompt named {name!r}",
                hint="List prompts with: workbench vault list (or search with vault search)",
            )
        return row

    @staticmethod
    def check_name(name: str) -> None:
        try:
            validate_prompt_name(name)
        except ValueError as exc:
            raise UsageError(str(exc), hint="Example of a valid name: support/reply") from exc

    def create_prompt(self, name: str) -> Prompt:
        self.check_name(name)
        with self.writing() as s:
            if s.scalar(select(PromptRow.id).where(PromptRow.name == name)) is not None:
                raise DuplicateError(
                    f"a prompt named {name!r} already exists",
                    hint="Commit a new version to it instead, or pick another name.",
                )
            row = self.insert_prompt(s, name, utcnow())
            self.audit_in(s, "prompt.create", name, {})
            return _prompt(row)

    def insert_prompt(
        self, s: Session, name: str, at: datetime, archived: bool = False
    ) -> PromptRow:
        row = PromptRow(name=name, archived=archived, created_at=at)
        s.add(row)
        s.flush()
        self.write_doc(s, row.id, SearchDoc(name))
        return row

    # ---- the full-text document of a prompt ------------------------------------------

    @staticmethod
    def read_doc(s: Session, prompt_id: int, name: str) -> SearchDoc:
        row = s.execute(
            text("SELECT tags, messages, templates, history FROM search_index WHERE rowid = :id"),
            {"id": prompt_id},
        ).first()
        doc = SearchDoc(name)
        if row is not None:
            doc.tags.update(dict.fromkeys(row[0].split()))
            doc.messages.update(dict.fromkeys(row[1].split("\n")))
            doc.latest = row[2]
            doc.words.update(dict.fromkeys(row[3].split()))
        return doc

    @staticmethod
    def write_doc(s: Session, prompt_id: int, doc: SearchDoc) -> None:
        s.execute(text("DELETE FROM search_index WHERE rowid = :id"), {"id": prompt_id})
        s.execute(_INSERT_DOC, [{"id": prompt_id, **doc.params()}])

    def get_prompt(self, name: str) -> Prompt:
        with self.reading() as s:
            return _prompt(self.prompt_row(s, name))

    def set_archived(self, name: str, archived: bool = True) -> None:
        with self.writing() as s:
            row = self.prompt_row(s, name)
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
            q = select(PromptRow.id, PromptRow.name, PromptRow.archived).order_by(PromptRow.name)
            if not include_archived:
                q = q.where(PromptRow.archived.is_(False))
            if prefix:
                q = q.where(PromptRow.name.startswith(prefix, autoescape=True))
            if label:
                q = q.where(
                    PromptRow.id.in_(select(LabelRow.prompt_id).where(LabelRow.name == label))
                )
            if has_drafts is not None:
                drafts = select(VersionRow.prompt_id).where(VersionRow.number.is_(None))
                q = q.where(PromptRow.id.in_(drafts) if has_drafts else PromptRow.id.not_in(drafts))
            if tag is not None:
                # Tags of a prompt are those of its latest version; filter after the fetch.
                rows = s.execute(q).all()
            else:
                rows = s.execute(q.offset(offset).limit(limit)).all()
            summaries = self._summaries(s, rows)
            if tag is not None:
                summaries = [p for p in summaries if tag in p.tags][offset : offset + limit]
            return summaries

    def _summaries(self, s: Session, rows: Sequence[Any]) -> list[PromptSummary]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        stats: dict[int, tuple[int, int, int]] = {}
        for pid, n, drafts, last_seq in s.execute(
            select(
                VersionRow.prompt_id,
                func.count(),
                func.sum(VersionRow.number.is_(None).cast(type_=VersionRow.seq.type)),
                func.max(VersionRow.seq),
            )
            .where(VersionRow.prompt_id.in_(ids))
            .group_by(VersionRow.prompt_id)
        ):
            stats[pid] = (int(n), int(drafts or 0), int(last_seq))
        latest: dict[int, tuple[str, datetime, str]] = {}
        seqs = [v[2] for v in stats.values()]
        if seqs:
            for pid, vid, at, content in s.execute(
                select(
                    VersionRow.prompt_id, VersionRow.id, VersionRow.created_at, VersionRow.content
                ).where(VersionRow.seq.in_(seqs))
            ):
                latest[pid] = (vid, at, content)
        labels: dict[int, list[str]] = {}
        for pid, lname in s.execute(
            select(LabelRow.prompt_id, LabelRow.name)
            .where(LabelRow.prompt_id.in_(ids))
            .order_by(LabelRow.name)
        ):
            labels.setdefault(pid, []).append(lname)
        out = []
        for r in rows:
            n, drafts, _ = stats.get(r.id, (0, 0, 0))
            lv = latest.get(r.id)
            tags: tuple[str, ...] = tuple(json.loads(lv[2]).get("tags", ())) if lv else ()
            out.append(
                PromptSummary(
                    name=r.name,
                    archived=r.archived,
                    versions=n,
                    drafts=drafts,
                    latest_id=uuid.UUID(lv[0]) if lv else None,
                    latest_at=lv[1] if lv else None,
                    labels=tuple(labels.get(r.id, ())),
                    tags=tags,
                )
            )
        return out

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
        self.check_name(name)
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
                    self.prompt_row(s, name)  # raises NotFoundError
                prow = self.insert_prompt(s, name, utcnow())
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
            self.insert_version(s, prow, version)
            self.audit_in(
                s, "version.commit", name, {"version": str(version.id), "hash": content_hash}
            )
            return version

    def insert_version(self, s: Session, prow: PromptRow, v: PromptVersion) -> None:
        s.add(
            VersionRow(
                id=str(v.id),
                prompt_id=prow.id,
                content=canonical_json(v.content.canonical()).decode("utf-8"),
                content_hash=v.content_hash,
                message=v.message,
                author=v.author,
                created_at=v.created_at,
                number=v.number,
            )
        )
        s.flush()
        for pos, parent in enumerate(v.parent_ids):
            s.add(VersionParentRow(version_id=str(v.id), parent_id=str(parent), position=pos))
        doc = self.read_doc(s, prow.id, prow.name)
        doc.add(v)
        self.write_doc(s, prow.id, doc)

    @staticmethod
    def ordinals(s: Session, rows: Sequence[VersionRow]) -> dict[int, int]:
        """Each draft's place in its prompt's history (seq order, 1-based): one query."""
        drafts = {r.seq for r in rows if r.number is None}
        out: dict[int, int] = {}
        prompt_ids = list({r.prompt_id for r in rows if r.number is None})
        for chunk in chunks(prompt_ids, 500):
            ranked = (
                select(
                    VersionRow.seq,
                    func.row_number()
                    .over(partition_by=VersionRow.prompt_id, order_by=VersionRow.seq)
                    .label("n"),
                )
                .where(VersionRow.prompt_id.in_(chunk))
                .subquery()
            )
            for seq, n in s.execute(select(ranked.c.seq, ranked.c.n)):
                if seq in drafts:
                    out[seq] = int(n)
        return out

    def versions_in(
        self, s: Session, rows: Sequence[VersionRow], ordinals: dict[int, int] | None = None
    ) -> list[PromptVersion]:
        if ordinals is None:
            ordinals = self.ordinals(s, rows)
        ids = [r.id for r in rows]
        parents: dict[str, list[tuple[int, str]]] = {}
        if ids:
            for vid, pid, pos in s.execute(
                select(
                    VersionParentRow.version_id,
                    VersionParentRow.parent_id,
                    VersionParentRow.position,
                ).where(VersionParentRow.version_id.in_(ids))
            ):
                parents.setdefault(vid, []).append((pos, pid))
        names = {
            pid: n
            for pid, n in s.execute(
                select(PromptRow.id, PromptRow.name).where(
                    PromptRow.id.in_({r.prompt_id for r in rows})
                )
            )
        }
        return [
            PromptVersion(
                id=uuid.UUID(r.id),
                prompt=names[r.prompt_id],
                content=PromptContent.model_validate_json(r.content),
                content_hash=r.content_hash,
                message=r.message,
                author=r.author,
                created_at=r.created_at,
                parent_ids=tuple(uuid.UUID(p) for _, p in sorted(parents.get(r.id, []))),
                number=r.number,
                local_ordinal=ordinals.get(r.seq) if r.number is None else None,
            )
            for r in rows
        ]

    def history(self, name: str) -> list[PromptVersion]:
        """Every version of ``name``, oldest first."""
        with self.reading() as s:
            prow = self.prompt_row(s, name)
            rows = list(
                s.scalars(
                    select(VersionRow)
                    .where(VersionRow.prompt_id == prow.id)
                    .order_by(VersionRow.seq)
                )
            )
            return self.versions_in(s, rows, {r.seq: i for i, r in enumerate(rows, 1)})

    def heads(self, name: str) -> list[PromptVersion]:
        """Versions nobody builds on: one normally, several after a fork."""
        return find_heads(self.history(name))

    def get_version(self, name: str, ref: str = "latest") -> PromptVersion:
        """Resolve ``ref``: 'latest', 'vN' (registry number), a label, a full or short id."""
        versions = self.history(name)
        if not versions:
            raise NotFoundError(f"{name!r} has no versions yet", hint="Commit one first.")
        if ref in ("latest", "head", ""):
            return versions[-1]
        if re.fullmatch(r"v\d+", ref):
            for v in versions:
                if v.number == int(ref[1:]):
                    return v
        draft = re.fullmatch(r"draft ?(\d+)(?: \(([0-9a-f]+)\))?", ref)
        if draft:
            for v in versions:
                if v.local_ordinal == int(draft.group(1)) and (
                    draft.group(2) is None or v.id.hex.startswith(draft.group(2))
                ):
                    return v
        labels = {lab.name: lab.version_id for lab in self.labels(name)}
        if ref in labels:
            return next(v for v in versions if v.id == labels[ref])
        if re.fullmatch(r"[0-9a-fA-F-]{4,36}", ref):
            want = ref.lower().replace("-", "")
            found = [v for v in versions if v.id.hex.startswith(want)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise UsageError(
                    f"{ref!r} matches {len(found)} versions of {name!r}",
                    hint="Give more characters of the version id.",
                )
        raise NotFoundError(
            f"{name!r} has no version {ref!r}",
            hint=f"Refer to versions as latest, vN, a label or an id; see: "
            f"workbench vault history {name}",
        )

    def version_by_id(self, version_id: uuid.UUID) -> PromptVersion:
        with self.reading() as s:
            row = s.scalar(select(VersionRow).where(VersionRow.id == str(version_id)))
            if row is None:
                raise NotFoundError(f"no version {version_id} in this vault")
            return self.versions_in(s, [row])[0]

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
            pid = s.scalar(select(PromptRow.id).where(PromptRow.name == name))
            if pid is None:
                return []
            rows = s.execute(
                select(TestCaseRow.name, TestCaseRow.vals, TestCaseRow.assertions)
                .where(TestCaseRow.prompt_id == pid)
                .order_by(TestCaseRow.position)
            ).all()
        return [
            TestCase(name=n, values=json.loads(v), assertions=json.loads(a)) for n, v, a in rows
        ]

    def set_test_cases(self, name: str, cases: Sequence[TestCase]) -> None:
        """Replace the prompt's test cases in one transaction (the prompt is created if new)."""
        self.check_name(name)
        with self.writing() as s:
            prow = s.scalar(select(PromptRow).where(PromptRow.name == name))
            if prow is None:
                prow = self.insert_prompt(s, name, utcnow())
            self.write_cases(s, prow.id, cases)
            self.audit_in(s, "cases.set", name, {"cases": len(cases)})

    @staticmethod
    def write_cases(s: Session, prompt_id: int, cases: Sequence[TestCase]) -> None:
        s.execute(delete(TestCaseRow).where(TestCaseRow.prompt_id == prompt_id))
        if cases:
            s.execute(
                insert(TestCaseRow),
                [
                    {
                        "prompt_id": prompt_id,
                        "position": i,
                        "name": c.name or f"case {i + 1}",
                        "vals": json.dumps(c.values, sort_keys=True, ensure_ascii=False),
                        "assertions": json.dumps(
                            [a.model_dump(mode="json") for a in c.assertions], ensure_ascii=False
                        ),
                    }
                    for i, c in enumerate(cases)
                ],
            )

    # ---- search ----------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search over names, tags, commit messages and every version's templates.

        One hit per prompt, best first; every word must match (as a prefix).
        """
        match = fts_query(query)
        if not match:
            return []
        with self.reading() as s:
            rows = s.execute(
                text(
                    "SELECT prompt, snippet(search_index, -1, '[', ']', '…', 10), rank "
                    "FROM search_index WHERE search_index MATCH :q ORDER BY rank LIMIT :n"
                ),
                {"q": match, "n": limit},
            ).all()
        return [
            SearchHit(prompt=p, version_id=None, field="prompt", snippet=snip, rank=float(rank))
            for p, snip, rank in rows
        ]

    # ---- labels ----------------------------------------------------------------------

    def labels(self, name: str) -> list[Label]:
        with self.reading() as s:
            prow = self.prompt_row(s, name)
            rows = s.scalars(
                select(LabelRow).where(LabelRow.prompt_id == prow.id).order_by(LabelRow.name)
            )
            return [_label(name, r) for r in rows]

    def label_history(self, name: str, label: str | None = None) -> list[LabelEvent]:
        """Every recorded move of the prompt's labels, oldest first: the registry's (as of
        the last sync, from its audit log) and this vault's local ones."""
        with self.reading() as s:
            prow = self.prompt_row(s, name)
            q = (
                select(LabelEventRow)
                .where(LabelEventRow.prompt_id == prow.id)
                .order_by(LabelEventRow.at, LabelEventRow.seq)
            )
            if label is not None:
                q = q.where(LabelEventRow.label == label)
            return [
                LabelEvent(
                    prompt=name,
                    label=r.label,
                    at=r.at,
                    actor=r.actor,
                    from_version_id=_uuid(r.from_version_id),
                    to_version_id=_uuid(r.to_version_id),
                    to_number=r.to_number,
                    canary_version_id=_uuid(r.canary_version_id),
                    canary_percent=r.canary_percent,
                    reason=r.reason,
                    source="registry" if r.source == "registry" else "local",
                )
                for r in s.scalars(q)
            ]

    def move_label(
        self,
        name: str,
        label: str,
        version_id: uuid.UUID | None,
        *,
        expected: uuid.UUID | None = _UNSET,
        reason: str = "",
    ) -> Label | None:
        """Point ``label`` at ``version_id`` (None removes it), compare-and-swap style.

        ``expected`` is the target the caller believes the label has now (None: the
        label should not exist yet). If it moved meanwhile, StaleLabelError says where.

        Only for prompts the registry does not hold: a synced prompt's labels are the
        registry's (mirrored on every sync), and move only by publishing.
        """
        try:
            validate_label_name(label)
        except ValueError as exc:
            raise UsageError(str(exc), hint="Example: production, staging, canary-1") from exc
        with self.writing() as s:
            prow = self.prompt_row(s, name)
            row = s.scalar(
                select(LabelRow).where(LabelRow.prompt_id == prow.id, LabelRow.name == label)
            )
            synced = s.scalar(
                select(VersionRow.seq)
                .where(VersionRow.prompt_id == prow.id, VersionRow.number.is_not(None))
                .limit(1)
            )
            if (row is not None and row.source == "registry") or synced is not None:
                raise UsageError(
                    f"{name!r} is in the team registry, so its labels are the registry's: "
                    f"{label!r} cannot be moved in this vault alone",
                    hint=f"Publish instead: workbench publish {name} --label {label} "
                    "--version vN --reason WHY (or Publish… in the app).",
                )
            current = uuid.UUID(row.version_id) if row else None
            if expected is not _UNSET and expected != current:
                raise StaleLabelError(
                    f"label {label!r} of {name!r} points at "
                    f"{current or 'nothing'}, not {expected or 'nothing'} as expected",
                    expected=str(expected) if expected else None,
                    actual=str(current) if current else None,
                )
            now = utcnow()
            if version_id is None:
                if row is None:  # nothing to remove: nothing changes, nothing is logged
                    raise NotFoundError(
                        f"{name!r} has no label {label!r}: nothing was removed",
                        hint=f"See its labels with: workbench vault show {name}",
                    )
                s.delete(row)
                result = None
            else:
                target = s.scalar(select(VersionRow).where(VersionRow.id == str(version_id)))
                if target is None or target.prompt_id != prow.id:
                    raise NotFoundError(
                        f"{version_id} is not a version of {name!r}",
                        hint=f"See the versions with: workbench vault history {name}",
                    )
                if row is None:
                    s.add(
                        LabelRow(
                            prompt_id=prow.id,
                            name=label,
                            version_id=str(version_id),
                            updated_at=now,
                            source="local",
                            updated_by=self.actor,
                        )
                    )
                else:
                    row.version_id = str(version_id)
                    row.updated_at = now
                    row.updated_by = self.actor
                result = Label(
                    prompt=name, name=label, version_id=version_id, updated_at=now,
                    updated_by=self.actor,
                )  # fmt: skip
            s.add(
                LabelEventRow(
                    prompt_id=prow.id,
                    label=label,
                    at=now,
                    actor=self.actor,
                    from_version_id=str(current) if current else None,
                    to_version_id=str(version_id) if version_id else None,
                    reason=reason,
                    source="local",
                )
            )
            self.audit_in(
                s,
                "label.move",
                f"{name}@{label}",
                {
                    "from": str(current) if current else None,
                    "to": str(version_id) if version_id else None,
                    "reason": reason,
                },
            )
            return result

    # ---- audit -----------------------------------------------------------------------

    def audit_in(self, s: Session, action: str, subject: str, detail: dict[str, Any]) -> None:
        prev = s.scalar(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))
        prev_hash = prev or GENESIS_HASH
        at = utcnow()
        h = AuditEvent.compute_hash(prev_hash, at, self.actor, action, subject, detail)
        s.add(
            AuditRow(
                at=at,
                actor=self.actor,
                action=action,
                subject=subject,
                detail=canonical_json(detail).decode("utf-8"),
                prev_hash=prev_hash,
                hash=h,
            )
        )

    def record_event(self, action: str, subject: str, detail: dict[str, Any]) -> None:
        """Append an audit event from another layer (e.g. a keychain read: never the value)."""
        with self.writing() as s:
            self.audit_in(s, action, subject, detail)

    def audit_events(self, limit: int | None = None) -> list[AuditEvent]:
        with self.reading() as s:
            q = select(AuditRow).order_by(AuditRow.seq)
            if limit is not None:
                q = q.limit(limit)
            return [
                AuditEvent(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    subject=r.subject,
                    detail=json.loads(r.detail),
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                )
                for r in s.scalars(q)
            ]

    def verify_audit(self) -> int | None:
        """Walk the hash chain; return the seq of the first broken entry, or None if intact."""
        prev = GENESIS_HASH
        for ev in self.audit_events():
            expect = AuditEvent.compute_hash(
                prev, ev.at, ev.actor, ev.action, ev.subject, ev.detail
            )
            if ev.prev_hash != prev or ev.hash != expect:
                return ev.seq
            prev = ev.hash
        return None

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


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _label(prompt: str, r: LabelRow) -> Label:
    return Label(
        prompt=prompt,
        name=r.name,
        version_id=uuid.UUID(r.version_id),
        updated_at=r.updated_at,
        source="registry" if r.source == "registry" else "local",
        canary_version_id=_uuid(r.canary_version_id),
        canary_percent=r.canary_percent,
        protected=r.protected,
        updated_by=r.updated_by,
    )


def _prompt(row: PromptRow) -> Prompt:
    return Prompt(name=row.name, archived=row.archived, created_at=row.created_at)
