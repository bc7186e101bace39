"""Prompt rows: finding, naming, creating, and the summaries the prompt list shows.

Functions over a ``Session``: the vault and its sibling stores (imports, batches)
call them inside their own transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.models import Prompt, PromptSummary, validate_prompt_name
from workbench.vault.schema import LabelRow, PromptRow, VersionRow
from workbench.vault.search import SearchDoc, write_doc


def prompt_row(s: Session, name: str) -> PromptRow:
    row = s.scalar(select(PromptRow).where(PromptRow.name == name))
    if row is None:
        raise NotFoundError(
            f"no prompt named {name!r}",
            hint="List prompts with: workbench vault list (or search with vault search)",
        )
    return row


def check_name(name: str) -> None:
    try:
        validate_prompt_name(name)
    except ValueError as exc:
        raise UsageError(str(exc), hint="Example of a valid name: support/reply") from exc


def insert_prompt(s: Session, name: str, at: datetime, archived: bool = False) -> PromptRow:
    row = PromptRow(name=name, archived=archived, created_at=at)
    s.add(row)
    s.flush()
    write_doc(s, row.id, SearchDoc(name))
    return row


def to_prompt(row: PromptRow) -> Prompt:
    return Prompt(name=row.name, archived=row.archived, created_at=row.created_at)


def list_page(
    s: Session,
    *,
    offset: int,
    limit: int,
    prefix: str,
    tag: str | None,
    label: str | None,
    has_drafts: bool | None,
    include_archived: bool,
) -> list[PromptSummary]:
    """A page of prompts by name with their version counts, labels and latest tags."""
    q = select(PromptRow.id, PromptRow.name, PromptRow.archived).order_by(PromptRow.name)
    if not include_archived:
        q = q.where(PromptRow.archived.is_(False))
    if prefix:
        q = q.where(PromptRow.name.startswith(prefix, autoescape=True))
    if label:
        q = q.where(PromptRow.id.in_(select(LabelRow.prompt_id).where(LabelRow.name == label)))
    if has_drafts is not None:
        drafts = select(VersionRow.prompt_id).where(VersionRow.number.is_(None))
        q = q.where(PromptRow.id.in_(drafts) if has_drafts else PromptRow.id.not_in(drafts))
    if tag is None:
        return summaries(s, s.execute(q.offset(offset).limit(limit)).all())
    # Tags of a prompt are those of its latest version; filter after the fetch.
    tagged = [p for p in summaries(s, s.execute(q).all()) if tag in p.tags]
    return tagged[offset : offset + limit]


def summaries(s: Session, rows: Sequence[Any]) -> list[PromptSummary]:
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
