"""The change feed (everything after a cursor, in order: what a sync pulls) and the
audit log (a hash chain; :meth:`FeedMixin.verify_audit` walks it)."""

from __future__ import annotations

import json
import uuid

from workbench.core.models import (
    AuditEvent,
)
from workbench.registry.schemas import AuditEntry, AuditPage, AuditReport, Change, ChangePage
from workbench.registry.server import repository as repo
from workbench.registry.server import suite_repository as srepo
from workbench.registry.server.base import ServiceBase, page_size

GENESIS_HASH = "0" * 64


class FeedMixin(ServiceBase):
    """The change feed and the audit log."""

    # --- change feed and audit ---------------------------------------------------------

    def changes(self, since: int, limit: int) -> ChangePage:
        limit = page_size(limit)
        with self.db.reading() as session:
            rows = repo.changes_after(session, max(since, 0), limit + 1)
            has_more = len(rows) > limit
            rows = rows[:limit]
            versions = repo.versions_with_prompt(
                session, [uuid.UUID(r.ref) for r in rows if r.kind == "version"]
            )
            reviews = repo.reviews_with_prompt(
                session, [uuid.UUID(r.ref) for r in rows if r.kind == "review"]
            )
            labels = repo.labels_with_prompt(
                session, [int(r.ref) for r in rows if r.kind == "label"]
            )
            suites = srepo.suite_rows(session, [r.ref for r in rows if r.kind == "suite"])
            out: list[Change] = []
            for r in rows:
                if r.kind == "version":
                    v, p = versions[uuid.UUID(r.ref)]
                    out.append(
                        Change(
                            seq=r.seq,
                            kind="version",
                            prompt=p,
                            at=r.at,
                            version=repo.to_version(v, p),
                        )
                    )
                elif r.kind == "review":
                    rv, p = reviews[uuid.UUID(r.ref)]
                    out.append(
                        Change(
                            seq=r.seq,
                            kind="review",
                            prompt=p,
                            at=r.at,
                            review=repo.to_review(rv, p),
                        )
                    )
                elif r.kind == "suite":
                    out.append(
                        Change(
                            seq=r.seq,
                            kind="suite",
                            prompt=r.prompt,
                            at=r.at,
                            suite=srepo.to_suite(suites[r.ref], r.prompt),
                        )
                    )
                else:
                    lbl, p = labels[int(r.ref)]
                    out.append(
                        Change(
                            seq=r.seq,
                            kind="label",
                            prompt=p,
                            at=r.at,
                            label=self._label_state(lbl, p),
                        )
                    )
            next_cursor = rows[-1].seq if rows else max(since, 0)
            return ChangePage(changes=tuple(out), next_cursor=next_cursor, has_more=has_more)

    def audit(self, since: int, limit: int, subject: str | None = None) -> AuditPage:
        limit = page_size(limit)
        with self.db.reading() as session:
            rows = repo.audit_after(session, max(since, 0), limit + 1, subject)
            has_more = len(rows) > limit
            rows = rows[:limit]
            entries = tuple(
                AuditEntry(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    subject=r.subject,
                    detail=json.loads(r.detail),
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                )
                for r in rows
            )
            return AuditPage(
                entries=entries,
                next_cursor=rows[-1].seq if rows else max(since, 0),
                has_more=has_more,
            )

    def verify_audit(self) -> AuditReport:
        """Walk the chain: each entry must hash to its stored hash and link to the one before;
        the head row pins the last entry, so removing the newest rows shows too."""
        problems: list[str] = []
        count = 0
        prev_hash = GENESIS_HASH
        expected_seq = 1
        with self.db.reading() as session:
            head = repo.read_head(session)
            for row in repo.iter_audit(session):
                count += 1
                if row.seq != expected_seq:
                    problems.append(f"entries {expected_seq}..{row.seq - 1} are missing")
                if row.prev_hash != prev_hash:
                    problems.append(f"entry {row.seq} does not link to the entry before it")
                try:
                    detail = json.loads(row.detail)
                except ValueError:
                    detail = None
                recomputed = (
                    AuditEvent.compute_hash(
                        row.prev_hash, row.at, row.actor, row.action, row.subject, detail
                    )
                    if isinstance(detail, dict)
                    else ""
                )
                if recomputed != row.hash:
                    problems.append(f"entry {row.seq} was changed after it was written")
                prev_hash = row.hash
                expected_seq = row.seq + 1
            if head.audit_seq != expected_seq - 1 or head.audit_hash != prev_hash:
                problems.append(
                    f"the chain ends at entry {expected_seq - 1} but the head says "
                    f"{head.audit_seq}: entries were removed from its end"
                )
        return AuditReport(ok=not problems, entries=count, problems=tuple(problems))
