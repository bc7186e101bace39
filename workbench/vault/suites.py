"""Test suites in the vault as the registry knows them (migration 0011).

The prompt's *local* suite is its test-case table (``Vault.test_cases``); this store
keeps what sync needs beside it: every suite seen in the registry, by suite hash (so a
suite diff against the suite an approval named works offline), and each prompt's
registry suite as of the last sync. That last one tells the two directions apart:

- local cases hash differently from it: the author changed them here; sync pushes
  them, with it as the parent (a compare-and-swap in the registry);
- local cases hash as it does (or there are none) and the registry has a newer
  suite: a teammate changed them; sync replaces the local cases with theirs.

A pulled suite never overwrites cases changed here and not pushed yet: those are kept,
and the sync report says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.runs import TestCase
from workbench.core.suites import stored_suite, suite_hash
from workbench.vault.cases import write_cases
from workbench.vault.repository import Vault
from workbench.vault.schema import PromptRow, PromptSuiteRow, SuiteRow, TestCaseRow, VersionRow


@dataclass(frozen=True)
class SuiteCopy:
    """A suite as the registry holds it: the current suite of ``prompt``."""

    prompt: str
    hash: str
    cases: tuple[TestCase, ...]
    author: str | None = None
    pushed_at: datetime | None = None


@dataclass(frozen=True)
class SuiteToPush:
    prompt: str
    cases: tuple[TestCase, ...]
    hash: str
    parent_hash: str | None


class SuiteStore:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # ---- reading ---------------------------------------------------------------------

    def local_hash(self, prompt: str) -> str | None:
        """The suite hash of the prompt's local cases (None: it has none)."""
        return suite_hash(self.vault.test_cases(prompt))

    def registry_hash(self, prompt: str) -> str | None:
        """The prompt's suite in the registry, as of the last sync (None: none there)."""
        with self.vault.reading() as s:
            return s.scalar(
                select(PromptSuiteRow.registry_hash)
                .join(PromptRow, PromptRow.id == PromptSuiteRow.prompt_id)
                .where(PromptRow.name == prompt)
            )

    def suite(self, hash_: str | None) -> list[TestCase] | None:
        """The cases of suite ``hash_`` if the vault has seen it (None: it has not)."""
        if hash_ is None:
            return None
        with self.vault.reading() as s:
            data = s.scalar(select(SuiteRow.cases).where(SuiteRow.hash == hash_))
        if data is None:
            return None
        return [TestCase.model_validate(c) for c in json.loads(data)]

    def to_push(self) -> list[SuiteToPush]:
        """Prompts with pushed versions whose local cases differ from the registry's."""
        with self.vault.reading() as s:
            pushed = s.execute(
                select(PromptRow.id, PromptRow.name)
                .where(
                    select(VersionRow.seq)
                    .where(VersionRow.prompt_id == PromptRow.id, VersionRow.number.is_not(None))
                    .exists()
                )
                .order_by(PromptRow.name)
            ).all()
            known = dict(
                s.execute(select(PromptSuiteRow.prompt_id, PromptSuiteRow.registry_hash)).all()
            )
            out = []
            for pid, name in pushed:
                cases = _cases_in(s, pid)
                local = suite_hash(cases)
                if local is not None and local != known.get(pid):
                    out.append(SuiteToPush(name, tuple(cases), local, known.get(pid)))
        return out

    # ---- writing ---------------------------------------------------------------------

    def record(self, suite: SuiteCopy) -> None:
        """Note a suite the registry accepted from this vault (after a push)."""
        with self.vault.writing() as s:
            self.apply_in(s, [suite])

    def apply_in(self, s: Session, suites: Sequence[SuiteCopy]) -> list[str]:
        """Mirror the registry's current suites in session ``s`` (a sync page's
        transaction); returns the prompts whose local cases were kept although the
        registry's differ (changed here, not pushed yet)."""
        kept: list[str] = []
        for suite in suites:
            if s.get(SuiteRow, suite.hash) is None:
                s.add(
                    SuiteRow(
                        hash=suite.hash,
                        cases=json.dumps(stored_suite(suite.cases), ensure_ascii=False),
                        author=suite.author,
                        pushed_at=suite.pushed_at,
                    )
                )
            pid = s.scalar(select(PromptRow.id).where(PromptRow.name == suite.prompt))
            if pid is None:
                continue  # the prompt's versions are not in this vault (yet)
            mirror = s.get(PromptSuiteRow, pid)
            local = suite_hash(_cases_in(s, pid))
            previous = mirror.registry_hash if mirror is not None else None
            if local != suite.hash:
                if local is None or local == previous:
                    write_cases(s, pid, suite.cases)
                    self.vault.audit_in(
                        s, "cases.pulled", suite.prompt,
                        {"suite": suite.hash, "cases": len(suite.cases), "by": suite.author},
                    )  # fmt: skip
                else:
                    kept.append(suite.prompt)
            if mirror is None:
                s.add(PromptSuiteRow(prompt_id=pid, registry_hash=suite.hash))
            else:
                mirror.registry_hash = suite.hash
            s.flush()
        return kept


def _cases_in(s: Session, prompt_id: int) -> list[TestCase]:
    rows = s.execute(
        select(TestCaseRow.name, TestCaseRow.vals, TestCaseRow.assertions)
        .where(TestCaseRow.prompt_id == prompt_id)
        .order_by(TestCaseRow.position)
    ).all()
    return [TestCase(name=n, values=json.loads(v), assertions=json.loads(a)) for n, v, a in rows]
