"""The vault's side of sync: the registry cursor, the outbox, mirrored reviews and labels.

The registry layer (``workbench.registry.sync``) talks HTTP; this module only
stores. Each pulled page is applied in one transaction together with its cursor,
so a crash between pages loses nothing and repeats nothing.

Registry labels are mirrored into the vault's one label table (``source`` =
"registry") with their history, so History, the label filter, ``vault history`` and
``vault list --label`` and the publish dialog read the same thing, offline too. The
registry is the truth for the labels of a prompt it holds: a page that touches such a
prompt replaces any local label of it (reported, audited).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from workbench.core.errors import ConflictError, InputError
from workbench.core.models import Label, LabelEvent, PromptVersion, utcnow
from workbench.vault.repository import Vault
from workbench.vault.schema import (
    LabelEventRow,
    LabelRow,
    OutboxRow,
    PromptRow,
    RemoteReviewRow,
    SyncStateRow,
    VersionParentRow,
    VersionRow,
)
from workbench.vault.suites import SuiteCopy, SuiteStore
from workbench.vault.transfer import Transfer
from workbench.vault.versions import chunks, versions_in

SyncStatus = Literal["synced", "ahead", "forked", "local"]
OutboxKind = Literal["review", "label"]


@dataclass
class PageResult:
    """What applying one page changed."""

    new_versions: int = 0
    labels: int = 0
    dropped_local: list[str] = field(default_factory=list)
    """Local labels of prompts the registry holds, replaced by the registry's (prompt@label)."""
    suites: int = 0
    """Registry suites mirrored."""
    kept_local_cases: list[str] = field(default_factory=list)
    """Prompts whose cases were changed here and kept, though the registry's differ."""


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    kind: str
    prompt: str
    payload: dict[str, Any]
    status: str
    error: str | None


class SyncStore:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # ---- key/value state ---------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        with self.vault.reading() as s:
            value = s.scalar(select(SyncStateRow.value).where(SyncStateRow.key == key))
        return default if value is None else value

    def put(self, key: str, value: str) -> None:
        with self.vault.writing() as s:
            self._put(s, key, value)

    @staticmethod
    def _put(s: Session, key: str, value: str) -> None:
        row = s.get(SyncStateRow, key)
        if row is None:
            s.add(SyncStateRow(key=key, value=value))
        else:
            row.value = value

    def cursor(self) -> int:
        return int(self.get("cursor", "0") or 0)

    def bind_registry(self, url: str) -> None:
        """Remember which registry this vault syncs with; a different one starts over."""
        current = self.get("registry_url")
        if current is not None and current != url:
            raise ConflictError(
                f"this vault syncs with {current}, not {url}",
                hint="Use another vault for another registry (--vault NEWFILE).",
            )
        if current is None:
            with self.vault.writing() as s:
                self._put(s, "registry_url", url)
                self._put(s, "cursor", "0")
                self._demote_foreign_numbers(s, url)

    def _demote_foreign_numbers(self, s: Session, url: str) -> None:
        """On the first bind: numbers an import brought from another registry become
        provenance only, and those versions drafts to push (issue 12, item 7). A vault
        that never synced got its numbers only from imports, each noted as ``origin:``."""
        foreign = [
            key.removeprefix("origin:")
            for key, value in s.execute(
                select(SyncStateRow.key, SyncStateRow.value).where(
                    SyncStateRow.key.like("origin:%")
                )
            )
            if json.loads(value).get("registry") != url
        ]
        for chunk in chunks(foreign, 500):
            s.execute(update(VersionRow).where(VersionRow.id.in_(chunk)).values(number=None))

    def origin(self, version_id: uuid.UUID) -> tuple[str, int] | None:
        """The registry (URL, "" if unknown) and number an imported version had there."""
        value = self.get(f"origin:{version_id}")
        if value is None:
            return None
        data = json.loads(value)
        return str(data["registry"]), int(data["number"])

    # ---- versions to push --------------------------------------------------------------

    def drafts(self) -> list[PromptVersion]:
        """Every version not yet pushed, oldest first (so parents go before children)."""
        with self.vault.reading() as s:
            rows = list(
                s.scalars(
                    select(VersionRow).where(VersionRow.number.is_(None)).order_by(VersionRow.seq)
                )
            )
            return versions_in(s, rows)

    # ---- outbox ------------------------------------------------------------------------

    def queue(self, kind: OutboxKind, prompt: str, decision: BaseModel) -> int:
        """Store a decision for the next sync. Its type is the registry layer's
        (``QueuedReview`` / ``QueuedLabelMove``); the vault keeps only its JSON."""
        payload = decision.model_dump(mode="json")
        with self.vault.writing() as s:
            row = OutboxRow(
                kind=kind,
                prompt=prompt,
                payload=json.dumps(payload, sort_keys=True),
                created_at=utcnow(),
                status="pending",
            )
            s.add(row)
            s.flush()
            self.vault.audit_in(s, f"outbox.{kind}", prompt, payload)
            return row.seq

    def outbox(self, include_rejected: bool = True) -> list[OutboxEntry]:
        with self.vault.reading() as s:
            q = select(OutboxRow).order_by(OutboxRow.seq)
            if not include_rejected:
                q = q.where(OutboxRow.status == "pending")
            return [
                OutboxEntry(r.seq, r.kind, r.prompt, json.loads(r.payload), r.status, r.error)
                for r in s.scalars(q)
            ]

    def done(self, seq: int) -> None:
        with self.vault.writing() as s:
            s.execute(delete(OutboxRow).where(OutboxRow.seq == seq))

    def reject(self, seq: int, error: str) -> None:
        """The registry refused it: keep it, visibly, with the server's reason."""
        with self.vault.writing() as s:
            s.execute(
                update(OutboxRow).where(OutboxRow.seq == seq).values(status="rejected", error=error)
            )

    def dismiss(self, seq: int) -> None:
        self.done(seq)

    # ---- pulled pages ------------------------------------------------------------------

    def apply_page(
        self,
        versions: Sequence[PromptVersion],
        reviews: Sequence[tuple[str, str, str, str]],
        labels: Sequence[Label],
        cursor: int,
        events: Sequence[LabelEvent] = (),
        suites: Sequence[SuiteCopy] = (),
    ) -> PageResult:
        """Apply one page of the change feed and its cursor in one transaction.

        ``reviews``: (review id, prompt, version id, JSON); ``labels``: the registry's
        current state of each label the page moved; ``events``: the registry's label
        moves (audit entries) not yet mirrored; ``suites``: the prompts' suites the
        page made current (local cases unchanged since the last sync are replaced).
        """
        for v in versions:
            if not v.hash_matches():
                raise InputError(
                    f"the registry sent version {v.id} of {v.prompt!r} whose content does "
                    "not match its content_hash; nothing from this page was applied",
                    hint="Report it to the registry admin.",
                )
        groups: dict[str, list[PromptVersion]] = {}
        for v in versions:
            groups.setdefault(v.prompt, []).append(v)
        with self.vault.writing() as s:
            added = (
                Transfer(self.vault)
                .add_versions(
                    s,
                    [(name, vs[0].created_at, False, vs) for name, vs in groups.items()],
                    source="the registry",
                    nothing="Nothing from this page was applied; report it to the registry admin.",
                )
                .added
            )
            for rid, prompt, vid, data in reviews:
                existing = s.get(RemoteReviewRow, rid)
                if existing is None:
                    s.add(RemoteReviewRow(id=rid, prompt=prompt, version_id=vid, data=data))
            result = PageResult(new_versions=added)
            touched = {v.prompt for v in versions} | {lab.prompt for lab in labels}
            self._mirror_labels(s, labels, touched, result)
            self._mirror_events(s, events)
            if suites:
                s.flush()
                result.kept_local_cases = SuiteStore(self.vault).apply_in(s, suites)
                result.suites = len(suites)
            self._put(s, "cursor", str(cursor))
        return result

    def _mirror_labels(
        self, s: Session, labels: Sequence[Label], touched: set[str], result: PageResult
    ) -> None:
        ids = self._prompt_ids(s, touched)
        synced = set(
            s.scalars(
                select(VersionRow.prompt_id)
                .where(VersionRow.prompt_id.in_(list(ids.values())), VersionRow.number.is_not(None))
                .distinct()
            )
        )
        for name, pid in sorted(ids.items()):
            if pid not in synced:
                continue
            for row in s.scalars(
                select(LabelRow).where(LabelRow.prompt_id == pid, LabelRow.source == "local")
            ):
                result.dropped_local.append(f"{name}@{row.name}")
                self.vault.audit_in(
                    s, "label.local_dropped", f"{name}@{row.name}",
                    {"version": row.version_id, "why": "the registry holds this prompt"},
                )  # fmt: skip
                s.delete(row)
        s.flush()
        latest = {(lab.prompt, lab.name): lab for lab in labels}  # the last state wins
        for (prompt, label), lab in latest.items():
            label_pid = ids.get(prompt)
            wanted = [lab.version_id, *([lab.canary_version_id] if lab.canary_version_id else [])]
            known = set(s.scalars(select(VersionRow.id).where(VersionRow.id.in_(map(str, wanted)))))
            if label_pid is None or len(known) != len(set(wanted)):
                # A change carries the label's state *now*; its target may come later in
                # the feed, and so does the change of the move that put it there.
                continue
            mirror = s.scalar(
                select(LabelRow).where(LabelRow.prompt_id == label_pid, LabelRow.name == label)
            )
            if mirror is None:
                mirror = LabelRow(prompt_id=label_pid, name=label)
                s.add(mirror)
            mirror.version_id = str(lab.version_id)
            mirror.updated_at = lab.updated_at
            mirror.source = "registry"
            mirror.canary_version_id = str(lab.canary_version_id) if lab.canary_version_id else None
            mirror.canary_percent = lab.canary_percent
            mirror.protected = lab.protected
            mirror.updated_by = lab.updated_by
            result.labels += 1

    def _mirror_events(self, s: Session, events: Sequence[LabelEvent]) -> None:
        if not events:
            return
        ids = self._prompt_ids(s, {e.prompt for e in events})
        seqs = [e.registry_seq for e in events if e.registry_seq is not None]
        have = set(
            s.scalars(
                select(LabelEventRow.registry_seq).where(LabelEventRow.registry_seq.in_(seqs))
            )
        )
        for e in events:
            if e.registry_seq in have or e.prompt not in ids:
                continue
            have.add(e.registry_seq)
            s.add(
                LabelEventRow(
                    prompt_id=ids[e.prompt],
                    label=e.label,
                    at=e.at,
                    actor=e.actor,
                    from_version_id=str(e.from_version_id) if e.from_version_id else None,
                    to_version_id=str(e.to_version_id) if e.to_version_id else None,
                    to_number=e.to_number,
                    canary_version_id=str(e.canary_version_id) if e.canary_version_id else None,
                    canary_percent=e.canary_percent,
                    reason=e.reason,
                    source="registry",
                    registry_seq=e.registry_seq,
                )
            )

    @staticmethod
    def _prompt_ids(s: Session, names: set[str]) -> dict[str, int]:
        return {
            n: pid
            for n, pid in s.execute(
                select(PromptRow.name, PromptRow.id).where(PromptRow.name.in_(sorted(names)))
            )
        }

    def label_audit_cursor(self, prompt: str) -> int:
        """The newest registry audit entry of ``prompt``'s labels this vault mirrors (0: none)."""
        with self.vault.reading() as s:
            seq = s.scalar(
                select(func.max(LabelEventRow.registry_seq))
                .join(PromptRow, PromptRow.id == LabelEventRow.prompt_id)
                .where(PromptRow.name == prompt)
            )
        return int(seq or 0)

    def set_registry_user(self, name: str) -> None:
        """Remember the registry login: it is who commits in this vault from now on."""
        if self.get("registry_user") != name:
            self.put("registry_user", name)
        if self.vault.actor_source != "given":
            self.vault.actor = name
            self.vault.actor_source = "registry"

    def reviews_for(self, version_id: uuid.UUID) -> list[dict[str, Any]]:
        with self.vault.reading() as s:
            return [
                json.loads(d)
                for d in s.scalars(
                    select(RemoteReviewRow.data).where(
                        RemoteReviewRow.version_id == str(version_id)
                    )
                )
            ]

    def all_reviews(self) -> list[dict[str, Any]]:
        with self.vault.reading() as s:
            return [json.loads(d) for d in s.scalars(select(RemoteReviewRow.data))]

    def registry_labels(self, prompt: str | None = None) -> list[Label]:
        """The registry's labels as of the last sync, by prompt and name."""
        with self.vault.reading() as s:
            q = (
                select(LabelRow, PromptRow.name)
                .join(PromptRow, PromptRow.id == LabelRow.prompt_id)
                .where(LabelRow.source == "registry")
                .order_by(PromptRow.name, LabelRow.name)
            )
            if prompt is not None:
                q = q.where(PromptRow.name == prompt)
            return [
                Label(
                    prompt=name,
                    name=row.name,
                    version_id=uuid.UUID(row.version_id),
                    updated_at=row.updated_at,
                    source="registry",
                    canary_version_id=(
                        uuid.UUID(row.canary_version_id) if row.canary_version_id else None
                    ),
                    canary_percent=row.canary_percent if row.canary_version_id else None,
                    protected=row.protected,
                    updated_by=row.updated_by,
                )
                for row, name in s.execute(q)
            ]

    def awaiting_review(
        self, label: str = "production", limit: int = 500
    ) -> list[tuple[PromptVersion, int]]:
        """Pushed versions nobody has approved, newer than what ``label`` points at (all
        pushed ones for a prompt not published yet), with how many reviews asked for
        changes; at most ``limit``. One query, whatever the size of the vault.

        An approval that named a suite counts only while that suite is the prompt's
        current one: when an author changes a case, the version is back in the queue
        (approvals that named no suite keep counting, as before suites travelled)."""
        sql = text(
            """
            WITH published AS (
                SELECT l.prompt_id AS prompt_id, pv.number AS n
                FROM labels l
                JOIN versions pv ON pv.id = l.version_id
                WHERE l.name = :label AND l.source = 'registry'
            )
            SELECT v.seq,
                   (SELECT count(*) FROM remote_reviews r WHERE r.version_id = v.id
                      AND json_extract(r.data, '$.decision') = 'request_changes')
            FROM versions v
            JOIN prompts p ON p.id = v.prompt_id
            LEFT JOIN published ON published.prompt_id = v.prompt_id
            WHERE v.number IS NOT NULL
              AND v.number > coalesce(published.n, 0)
              AND NOT EXISTS (SELECT 1 FROM remote_reviews r WHERE r.version_id = v.id
                              AND json_extract(r.data, '$.decision') = 'approve'
                              AND (json_extract(r.data, '$.suite_hash') IS NULL
                                   OR json_extract(r.data, '$.suite_hash') = (
                                      SELECT ps.registry_hash FROM prompt_suites ps
                                      WHERE ps.prompt_id = v.prompt_id)))
            ORDER BY p.name, v.seq
            LIMIT :limit
            """
        )
        with self.vault.reading() as s:
            found = s.execute(sql, {"label": label, "limit": limit}).all()
            changes = {seq: int(n) for seq, n in found}
            rows = list(
                s.scalars(
                    select(VersionRow)
                    .where(VersionRow.seq.in_(list(changes)))
                    .order_by(VersionRow.seq)
                )
            )
            versions = versions_in(s, rows)
        by_seq = dict(zip((r.seq for r in rows), versions, strict=True))
        return [(by_seq[seq], changes[seq]) for seq, _ in found]

    # ---- status ------------------------------------------------------------------------

    def statuses(self) -> dict[str, SyncStatus]:
        """Per prompt: local (never pushed), ahead (drafts or queued decisions), forked
        (several heads), or synced."""
        with self.vault.reading() as s:
            counts = {
                name: (int(total), int(drafts or 0))
                for name, total, drafts in s.execute(
                    select(
                        PromptRow.name,
                        func.count(VersionRow.seq),
                        func.sum(VersionRow.number.is_(None).cast(VersionRow.seq.type)),
                    )
                    .join(VersionRow, VersionRow.prompt_id == PromptRow.id, isouter=True)
                    .group_by(PromptRow.name)
                )
            }
            queued = set(s.scalars(select(OutboxRow.prompt).where(OutboxRow.status == "pending")))
            # Heads: versions that are nobody's parent; more than one per prompt = a fork.
            parents = select(VersionParentRow.parent_id)
            heads = dict(
                s.execute(
                    select(PromptRow.name, func.count(VersionRow.seq))
                    .join(VersionRow, VersionRow.prompt_id == PromptRow.id)
                    .where(VersionRow.id.not_in(parents))
                    .group_by(PromptRow.name)
                ).all()
            )
        out: dict[str, SyncStatus] = {}
        for name, (total, drafts) in counts.items():
            if drafts == total:
                out[name] = "local"
            elif heads.get(name, 0) > 1:
                out[name] = "forked"
            elif drafts or name in queued:
                out[name] = "ahead"
            else:
                out[name] = "synced"
        return out
