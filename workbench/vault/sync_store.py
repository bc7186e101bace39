"""The vault's side of sync: the registry cursor, the outbox, mirrored reviews and labels.

The registry layer (``workbench.registry.sync``) talks HTTP; this module only
stores. Each pulled page is applied in one transaction together with its cursor,
so a crash between pages loses nothing and repeats nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from workbench.core.errors import ConflictError, InputError
from workbench.core.models import PromptVersion, utcnow
from workbench.vault.repository import Vault
from workbench.vault.schema import (
    OutboxRow,
    PromptRow,
    RegistryLabelRow,
    RemoteReviewRow,
    SyncStateRow,
    VersionParentRow,
    VersionRow,
)

SyncStatus = Literal["synced", "ahead", "forked", "local"]
OutboxKind = Literal["review", "label"]


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

    # ---- versions to push --------------------------------------------------------------

    def drafts(self) -> list[PromptVersion]:
        """Every version not yet pushed, oldest first (so parents go before children)."""
        with self.vault.reading() as s:
            rows = list(
                s.scalars(
                    select(VersionRow).where(VersionRow.number.is_(None)).order_by(VersionRow.seq)
                )
            )
            return self.vault._versions(s, rows)

    # ---- outbox ------------------------------------------------------------------------

    def queue(self, kind: OutboxKind, prompt: str, payload: dict[str, Any]) -> int:
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
            self.vault._audit(s, f"outbox.{kind}", prompt, payload)
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
        labels: Sequence[tuple[str, str, str]],
        cursor: int,
    ) -> int:
        """Apply one page of the change feed and its cursor in one transaction.

        ``reviews``: (review id, prompt, version id, JSON); ``labels``: (prompt, name, JSON).
        Returns how many versions were new to this vault.
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
            added = self.vault._add_versions(
                s,
                [(name, vs[0].created_at, False, vs) for name, vs in groups.items()],
                source="the registry",
                nothing="Nothing from this page was applied; report it to the registry admin.",
            ).added
            for rid, prompt, vid, data in reviews:
                existing = s.get(RemoteReviewRow, rid)
                if existing is None:
                    s.add(RemoteReviewRow(id=rid, prompt=prompt, version_id=vid, data=data))
            for prompt, name, data in labels:
                existing_label = s.get(RegistryLabelRow, (prompt, name))
                if existing_label is None:
                    s.add(RegistryLabelRow(prompt=prompt, name=name, data=data))
                else:
                    existing_label.data = data
            self._put(s, "cursor", str(cursor))
        return added

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

    def registry_labels(self, prompt: str | None = None) -> list[dict[str, Any]]:
        with self.vault.reading() as s:
            q = select(RegistryLabelRow.data).order_by(
                RegistryLabelRow.prompt, RegistryLabelRow.name
            )
            if prompt is not None:
                q = q.where(RegistryLabelRow.prompt == prompt)
            return [json.loads(d) for d in s.scalars(q)]

    def awaiting_review(
        self, label: str = "production", limit: int = 500
    ) -> list[tuple[PromptVersion, int]]:
        """Pushed versions nobody has approved, newer than what ``label`` points at (all
        pushed ones for a prompt not published yet), with how many reviews asked for
        changes; at most ``limit``. One query, whatever the size of the vault."""
        sql = text(
            """
            WITH published AS (
                SELECT p.id AS prompt_id, pv.number AS n
                FROM registry_labels rl
                JOIN prompts p ON p.name = rl.prompt
                JOIN versions pv ON pv.id = json_extract(rl.data, '$.target.version_id')
                WHERE rl.name = :label
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
                              AND json_extract(r.data, '$.decision') = 'approve')
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
            versions = self.vault._versions(s, rows)
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
