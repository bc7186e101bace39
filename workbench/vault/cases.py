"""A prompt's test cases: read in table order, replaced as a whole.

Functions over a ``Session``: the vault, imports, batches and suites replace cases
inside their own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from workbench.core.runs import TestCase
from workbench.vault.schema import PromptRow, TestCaseRow


def read_cases(s: Session, name: str) -> list[TestCase]:
    """The prompt's test cases, in table order (empty for an unknown prompt)."""
    pid = s.scalar(select(PromptRow.id).where(PromptRow.name == name))
    if pid is None:
        return []
    rows = s.execute(
        select(TestCaseRow.name, TestCaseRow.vals, TestCaseRow.assertions)
        .where(TestCaseRow.prompt_id == pid)
        .order_by(TestCaseRow.position)
    ).all()
    return [TestCase(name=n, values=json.loads(v), assertions=json.loads(a)) for n, v, a in rows]


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
