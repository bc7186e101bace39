"""Many prompts' new versions and test cases written in one transaction.

A folder import (``workbench vault import --dir``) or a promptfoo import touches many
prompts; if the fifth file could not be written after four were, the vault would hold
half an import. Everything here happens in one ``BEGIN IMMEDIATE`` transaction of
:meth:`Vault.writing`: all of it lands, or none of it.

Each change names the head it was planned against: a commit that landed in between
(another window, another process) makes the whole batch refuse, rather than building
on a version the person never compared with.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.errors import ConflictError
from workbench.core.models import PromptContent, PromptVersion, utcnow
from workbench.core.runs import TestCase
from workbench.core.templating import validate_content
from workbench.vault.cases import write_cases
from workbench.vault.prompts import check_name, insert_prompt
from workbench.vault.repository import Vault
from workbench.vault.schema import PromptRow, VersionRow
from workbench.vault.versions import insert_version


@dataclass(frozen=True)
class Change:
    """What one prompt gets: a new version (``content``) and/or its test cases."""

    prompt: str
    content: PromptContent | None = None
    """The new version's content; None keeps the prompt's versions as they are."""
    cases: Sequence[TestCase] | None = None
    """The prompt's test cases from now on; None keeps them as they are."""
    expected_head: uuid.UUID | None = None
    """The latest version when the change was planned (None: the prompt had none)."""


def _latest(s: Session, prompt_id: int) -> VersionRow | None:
    return s.scalar(
        select(VersionRow)
        .where(VersionRow.prompt_id == prompt_id)
        .order_by(VersionRow.seq.desc())
        .limit(1)
    )


def apply_changes(vault: Vault, changes: Sequence[Change], message: str) -> list[PromptVersion]:
    """Write every change in one transaction; the versions committed, in order."""
    for change in changes:
        check_name(change.prompt)
        if change.content is not None:
            validate_content(change.content)
    committed: list[PromptVersion] = []
    with vault.writing() as s:
        for change in changes:
            prow = s.scalar(select(PromptRow).where(PromptRow.name == change.prompt))
            if prow is None:
                prow = insert_prompt(s, change.prompt, utcnow())
                vault.audit_in(s, "prompt.create", change.prompt, {})
            latest = _latest(s, prow.id)
            head = uuid.UUID(latest.id) if latest is not None else None
            if head != change.expected_head:
                raise ConflictError(
                    f"{change.prompt!r} got a new version while this import ran: nothing "
                    "was imported",
                    hint="Run the import again: it compares with the newest versions.",
                )
            if change.content is not None:
                content_hash = change.content.content_hash()
                stored = s.scalar(
                    select(func.count())
                    .select_from(VersionRow)
                    .where(VersionRow.prompt_id == prow.id)
                )
                version = PromptVersion(
                    prompt=change.prompt,
                    content=change.content,
                    content_hash=content_hash,
                    message=message,
                    author=vault.actor,
                    parent_ids=(head,) if head is not None else (),
                    local_ordinal=int(stored or 0) + 1,
                )
                insert_version(s, prow, version)
                vault.audit_in(
                    s,
                    "version.commit",
                    change.prompt,
                    {"version": str(version.id), "hash": content_hash},
                )
                committed.append(version)
            if change.cases is not None:
                write_cases(s, prow.id, change.cases)
                vault.audit_in(s, "cases.set", change.prompt, {"cases": len(change.cases)})
    return committed
