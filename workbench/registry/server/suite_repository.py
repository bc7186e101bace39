"""SQL of test suites and evidence policies (migration 0004); the rules are in
``suites.py``."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.runs import TestCase
from workbench.registry.schemas import FolderPolicy, Suite
from workbench.registry.server.tables import ChangeRow, PolicyRow, SuiteRow


def suite_row(session: Session, hash_: str) -> SuiteRow | None:
    return session.get(SuiteRow, hash_)


def suite_rows(session: Session, hashes: Iterable[str]) -> dict[str, SuiteRow]:
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    rows = session.execute(select(SuiteRow).where(SuiteRow.hash.in_(wanted))).scalars()
    return {r.hash: r for r in rows}


def was_suite_of(session: Session, prompt: str, hash_: str) -> bool:
    """Whether suite ``hash_`` was ever made current for ``prompt`` (its feed says so)."""
    found = session.execute(
        select(ChangeRow.seq)
        .where(ChangeRow.kind == "suite", ChangeRow.prompt == prompt, ChangeRow.ref == hash_)
        .limit(1)
    ).first()
    return found is not None


def to_suite(row: SuiteRow, prompt: str) -> Suite:
    return Suite(
        prompt=prompt,
        suite_hash=row.hash,
        cases=tuple(TestCase.model_validate(c) for c in json.loads(row.cases)),
        author=row.author,
        pushed_at=row.pushed_at,
    )


def policies(session: Session) -> list[FolderPolicy]:
    rows = session.execute(select(PolicyRow).order_by(PolicyRow.folder)).scalars()
    return [FolderPolicy.model_validate_json(r.data) for r in rows]


def policy_row(session: Session, folder: str) -> PolicyRow | None:
    return session.get(PolicyRow, folder)
