"""Prompts and their versions: push (idempotent by id, immutable once stored, the
same template check as a commit), and the reads of prompts and versions."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from workbench.core.errors import (
    DuplicateError,
    HashMismatchError,
    InputError,
    NotFoundError,
)
from workbench.core.models import (
    PromptVersion,
    canonical_json,
    utcnow,
)
from workbench.core.templating import validate_content
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import PromptInfo, PushResult, VersionPush
from workbench.registry.server import repository as repo
from workbench.registry.server.auth import Actor, require_role
from workbench.registry.server.base import ServiceBase, page_size
from workbench.registry.server.tables import PromptRow, VersionRow

CREATED_AT_FUTURE_SKEW = timedelta(days=1)
"""How far ahead of the server's clock a client's ``created_at`` may be (clock skew)."""
CREATED_AT_MAX_AGE = timedelta(days=3650)
"""How far back a ``created_at`` may be (old vaults pushed late; not 1970)."""


def check_created_at(created_at: datetime, now: datetime) -> None:
    """``created_at`` is the author's claim; it must fall in a sane window around the
    server's clock. The server's own receive time is stored beside it (``pushed_at``)."""
    if created_at > now + CREATED_AT_FUTURE_SKEW or created_at < now - CREATED_AT_MAX_AGE:
        raise InputError(
            f"created_at {created_at.isoformat()} is not plausible: the registry's clock says "
            f"{now.isoformat(timespec='seconds')} (allowed: up to 1 day ahead, 10 years back)",
            hint="Check the clock of the machine that made the version, then push again.",
        )


class VersionsMixin(ServiceBase):
    """Pushing and reading versions; listing prompts."""

    def push_version(self, actor: Actor, push: VersionPush) -> PushResult:
        require_role(actor, "author", "pushing a version")
        if push.author is not None and push.author != actor.name:
            raise PermissionDeniedError(
                f"the version claims the author {push.author!r} but the token belongs to "
                f"{actor.name!r}",
                hint="Authors are taken from the token; leave 'author' out or send your own name.",
            )
        actual_hash = push.content.content_hash()
        if actual_hash != push.content_hash:
            raise HashMismatchError(
                f"content_hash {push.content_hash[:12]}... does not match the content "
                f"(it hashes to {actual_hash[:12]}...)",
                hint="Recompute the hash from the content; the version was not stored.",
            )
        if push.id in push.parent_ids:
            raise InputError("a version cannot be its own parent", hint="Fix parent_ids.")
        # The same template check as a commit (syntax, size, rendering limits): a version
        # every vault would refuse to pull must not reach the registry, or each
        # teammate's sync would stop at it.
        try:
            validate_content(push.content)
        except InputError as exc:
            raise InputError(
                f"version {push.id} of {push.prompt!r}: {exc.message}",
                hint=f"{exc.hint} The version was not stored.".strip(),
            ) from None
        now = utcnow()
        check_created_at(push.created_at, now)
        with self.db.writing() as session:
            head = repo.lock_head(session)
            existing = repo.version_row(session, push.id)
            if existing is not None:
                prompt_row = session.get(PromptRow, existing.prompt_id)
                assert prompt_row is not None
                same = (
                    prompt_row.name == push.prompt
                    and existing.content_hash == push.content_hash
                    and json.loads(existing.parent_ids) == [str(p) for p in push.parent_ids]
                    and existing.message == push.message
                )
                if not same:
                    raise DuplicateError(
                        f"version {push.id} already exists with other content; versions are "
                        "immutable",
                        hint="Commit the change as a new version (a new id).",
                    )
                return PushResult(version=repo.to_version(existing, prompt_row.name), created=False)
            parents = repo.parent_prompts(session, push.parent_ids)
            missing = set(push.parent_ids) - set(parents)
            if missing:
                raise NotFoundError(
                    f"unknown parent version(s): {', '.join(sorted(map(str, missing)))}",
                    hint="Push the parent versions first (oldest first).",
                )
            foreign = sorted(str(p) for p, name in parents.items() if name != push.prompt)
            if foreign:
                raise InputError(
                    f"parent version(s) {', '.join(foreign)} belong to another prompt, not "
                    f"{push.prompt!r}",
                    hint="A version's parents must be versions of the same prompt; "
                    "push it without them or under the parents' prompt.",
                )
            prompt_row = repo.prompt_by_name(session, push.prompt)
            if prompt_row is None:
                prompt_row = PromptRow(name=push.prompt, created_at=now, version_count=0)
                session.add(prompt_row)
                session.flush()
            prompt_row.version_count += 1
            row = VersionRow(
                id=push.id,
                prompt_id=prompt_row.id,
                number=prompt_row.version_count,
                content=canonical_json(push.content.canonical()).decode("utf-8"),
                content_hash=push.content_hash,
                message=push.message,
                author=actor.name,
                created_at=push.created_at,
                pushed_at=now,
                parent_ids=json.dumps([str(p) for p in push.parent_ids]),
            )
            session.add(row)
            repo.add_change(
                session, head, kind="version", prompt=push.prompt, ref=str(push.id), at=now
            )
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor.name,
                action="version.push",
                subject=f"prompt:{push.prompt}",
                detail={"version": str(push.id), "number": row.number, "hash": push.content_hash},
            )
            version = repo.to_version(row, push.prompt)
        return PushResult(version=version, created=True)

    def version(self, version_id: uuid.UUID) -> PromptVersion:
        with self.db.reading() as session:
            found = repo.versions_with_prompt(session, [version_id]).get(version_id)
            if found is None:
                raise NotFoundError(f"no version {version_id}", hint="Check the version id.")
            return repo.to_version(*found)

    def versions(self, prompt: str, *, after: int = 0, limit: int = 200) -> list[PromptVersion]:
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            rows = repo.versions_of(session, prompt_row, after_number=after, limit=page_size(limit))
            return [repo.to_version(r, prompt_row.name) for r in rows]

    def prompt_info(self, name: str) -> PromptInfo:
        with self.db.reading() as session:
            row = self._prompt(session, name)
            labels = tuple(self._label_state(r, row.name) for r in repo.labels_of(session, row))
            return PromptInfo(
                name=row.name,
                versions=row.version_count,
                latest_number=row.version_count or None,
                labels=labels,
            )

    def prompts(
        self, *, offset: int = 0, limit: int = 200, scope: tuple[str, ...] | None = None
    ) -> list[PromptInfo]:
        with self.db.reading() as session:
            rows = repo.list_prompts(
                session, offset=max(offset, 0), limit=page_size(limit), scope=scope
            )
            return [
                PromptInfo(
                    name=r.name,
                    versions=r.version_count,
                    latest_number=r.version_count or None,
                    labels=tuple(
                        self._label_state(lr, r.name) for lr in repo.labels_of(session, r)
                    ),
                )
                for r in rows
            ]

    def prompt_count(self, scope: tuple[str, ...] | None = None) -> int:
        with self.db.reading() as session:
            return repo.count_prompts(session, scope)

    def version_by_number(self, prompt: str, number: int) -> tuple[PromptVersion, list[str]]:
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.version_by_number(session, prompt_row, number)
            if row is None:
                raise NotFoundError(f"{prompt} has no version {number}", hint="Check the number.")
            return repo.to_version(row, prompt), repo.labels_pointing_at(session, row.id)

    def version_numbers(self, prompt_row_name: str) -> list[int]:
        with self.db.reading() as session:
            return repo.version_numbers(session, self._prompt(session, prompt_row_name))
