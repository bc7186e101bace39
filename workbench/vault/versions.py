"""Version rows: inserting one, and reading many back as ``PromptVersion``s (a
reference is resolved to one by ``vault.refs``).

Functions over a ``Session``: the vault, sync and imports call them inside their own
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.models import PromptContent, PromptVersion, canonical_json
from workbench.vault.schema import PromptRow, VersionParentRow, VersionRow
from workbench.vault.search import read_doc, write_doc


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in slices of ``size``: SQLite caps the parameters of one statement."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def insert_version(s: Session, prow: PromptRow, v: PromptVersion) -> None:
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
    doc = read_doc(s, prow.id, prow.name)
    doc.add(v)
    write_doc(s, prow.id, doc)


def draft_ordinals(s: Session, rows: Sequence[VersionRow]) -> dict[int, int]:
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
    s: Session, rows: Sequence[VersionRow], ordinals: dict[int, int] | None = None
) -> list[PromptVersion]:
    if ordinals is None:
        ordinals = draft_ordinals(s, rows)
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


def history(s: Session, prow: PromptRow) -> list[PromptVersion]:
    """Every version of the prompt, oldest first."""
    rows = list(
        s.scalars(
            select(VersionRow).where(VersionRow.prompt_id == prow.id).order_by(VersionRow.seq)
        )
    )
    return versions_in(s, rows, {r.seq: i for i, r in enumerate(rows, 1)})
