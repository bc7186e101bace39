"""The registry's rules. Every decision about who may do what is made here, from the
authenticated :class:`Actor` alone; nothing a client claims about identity counts.

Each write is one transaction under the writers' lock: the change, its feed entry and
its audit entry commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from workbench.core.errors import (
    DuplicateError,
    HashMismatchError,
    InputError,
    NotFoundError,
    StaleLabelError,
)
from workbench.core.models import (
    AuditEvent,
    PromptVersion,
    canonical_json,
    utcnow,
    validate_prompt_name,
)
from workbench.core.templating import validate_content
from workbench.registry.errors import AuthenticationError, PermissionDeniedError
from workbench.registry.schemas import (
    MAX_PAGE,
    ROLE_RANK,
    AuditEntry,
    AuditPage,
    AuditReport,
    Change,
    ChangePage,
    LabelMove,
    LabelState,
    PromptInfo,
    PushResult,
    Resolved,
    Review,
    ReviewIn,
    UserRole,
    VersionPush,
    check_label_name,
)
from workbench.registry.server import repository as repo
from workbench.registry.server import suite_repository as srepo
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database
from workbench.registry.server.suites import SuiteService
from workbench.registry.server.tables import LabelRow, PromptRow, ReviewRow, UserRow, VersionRow
from workbench.registry.server.telemetry import Telemetry

GENESIS_HASH = "0" * 64
TOKEN_PREFIX = "wbr_"
USER_NAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Actor:
    name: str
    role: UserRole
    prompts: tuple[str, ...] | None = None
    """An app token's scope: prompt names and folder prefixes ('support/'); None: all."""

    def at_least(self, role: UserRole) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def may_read(self, prompt: str) -> bool:
        if self.prompts is None:
            return True
        return any(prompt.startswith(p) if p.endswith("/") else prompt == p for p in self.prompts)

    def check_read(self, prompt: str) -> None:
        """Refuse (403) a prompt outside an app token's scope."""
        if not self.may_read(prompt):
            raise PermissionDeniedError(
                f"the app {self.name} may read only {', '.join(self.prompts or ())}, not "
                f"{prompt!r}",
                hint="Ask a registry admin to widen its scope "
                "(workbench registry user scope NAME --prompts ...).",
            )


def check_scope(entries: list[str]) -> tuple[str, ...]:
    """An app's prompt scope as given by an admin: names or folder prefixes ending in '/'."""
    out = []
    for entry in entries:
        text = entry.strip()
        try:
            validate_prompt_name(text.rstrip("/"))
        except ValueError as exc:
            raise InputError(
                f"{text!r} is not a prompt name or folder: {exc}",
                hint="Write names (support/reply) or folders ending in '/' (support/).",
            ) from None
        out.append(text)
    if not out:
        raise InputError("an empty scope would let the app read nothing", hint="Name a prompt.")
    return tuple(dict.fromkeys(out))


def _require(actor: Actor, role: UserRole, action: str) -> None:
    if not actor.at_least(role):
        raise PermissionDeniedError(
            f"{actor.name} is {actor.role!r}; {action} needs the {role!r} role or higher",
            hint="Ask a registry admin to grant the role.",
        )


def _validated_label(name: str) -> str:
    try:
        return check_label_name(name)
    except ValueError as exc:
        raise InputError(str(exc), hint="Label names look like 'production' or 'staging'.") from exc


def _validated_prompt(name: str) -> str:
    try:
        return validate_prompt_name(name)
    except ValueError as exc:
        raise InputError(str(exc), hint="Check the prompt name.") from exc


def canary_pick(prompt: str, label: str, key: str, percent: int) -> bool:
    """True when ``key`` falls into the canary share: stable per key, even across servers."""
    digest = hashlib.sha256(f"{prompt}\x00{label}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


@dataclass(frozen=True)
class ResolvedBody:
    """A ``resolve`` answer as sent: the JSON of a :class:`Resolved` and its ETag, plus
    what was served (for the record of resolutions)."""

    body: bytes
    etag: str
    version_id: uuid.UUID | None = None
    number: int = 0
    served: str = "primary"


class _ResolvedBodies:
    """Serialised ``resolve`` answers, keyed by everything an answer is made of.

    The key holds the label row's mutable fields as read in this very request, plus
    which version was served; versions are immutable. So an entry can never be stale,
    needs no invalidation, and is equally right with many processes on one database:
    a label move changes the key, and the old entry ages out of the LRU.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[object, ...], ResolvedBody] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> ResolvedBody | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: ResolvedBody) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


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


class RegistryService:
    def __init__(self, db: Database, settings: RegistrySettings) -> None:
        self.db = db
        self.settings = settings
        self._resolved = _ResolvedBodies()
        self.telemetry = Telemetry(db, settings)
        self.suites = SuiteService(db)

    def ping(self) -> None:
        """Raise unless the database answers (the readiness probe)."""
        with self.db.reading() as session:
            repo.read_head(session)

    # --- users and tokens ------------------------------------------------------------

    def authenticate(self, token: str) -> Actor:
        """The caller behind ``token``, read fresh from the database on every request:
        no token cache, so a disabled user or a rotated token is refused at once."""
        if not token:
            raise AuthenticationError(
                "no registry token was sent",
                hint="Send 'Authorization: Bearer TOKEN' (or HTTP Basic, token as password).",
            )
        with self.db.read_connection() as conn:
            user = repo.credentials_by_token_hash(conn, hash_token(token))
        if user is None:
            raise AuthenticationError(
                "the registry token is not valid",
                hint="Ask an admin for a new token (workbench registry token rotate NAME).",
            )
        name, role, disabled, expires_at, scope = user
        if disabled:
            raise AuthenticationError(f"the user {name} is disabled", hint="Ask a registry admin.")
        if expires_at is not None and expires_at <= utcnow():
            raise AuthenticationError(
                f"the token of {name} expired on {expires_at:%Y-%m-%d %H:%M}",
                hint="Ask an admin for a new token (workbench registry token rotate NAME).",
            )
        prompts = tuple(json.loads(scope)) if scope else None
        return Actor(name=name, role=role, prompts=prompts)  # type: ignore[arg-type]

    def add_user(
        self,
        name: str,
        role: UserRole,
        *,
        actor: str = "admin",
        expires_in: timedelta | None = None,
        prompts: list[str] | None = None,
    ) -> str:
        """Create a user and return their token (shown once; only its hash is stored).
        ``prompts`` scopes an app token to those prompts (names, or folders ending '/')."""
        if role not in ROLE_RANK:
            raise InputError(
                f"unknown role {role!r}", hint="Use app, author, reviewer, publisher or admin."
            )
        _check_user_name(name)
        scope = self._scope_for(role, prompts)
        token = new_token()
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            if repo.user_by_name(session, name) is not None:
                raise DuplicateError(
                    f"the user {name} already exists",
                    hint="Pick another name, or rotate their token with 'registry token rotate'.",
                )
            session.add(
                UserRow(
                    name=name,
                    role=role,
                    token_hash=hash_token(token),
                    token_expires_at=now + expires_in if expires_in else None,
                    disabled=False,
                    created_at=now,
                    prompt_scope=json.dumps(list(scope)) if scope is not None else None,
                )
            )
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor,
                action="user.add",
                subject=f"user:{name}",
                detail={"role": role, "prompts": list(scope) if scope is not None else None},
            )
        return token

    @staticmethod
    def _scope_for(role: str, prompts: list[str] | None) -> tuple[str, ...] | None:
        if prompts is None:
            return None
        if role != "app":
            raise InputError(
                "a prompt scope is for app tokens only",
                hint="People see every prompt; give --prompts with --role app.",
            )
        return check_scope(prompts)

    def set_prompt_scope(
        self, name: str, prompts: list[str] | None, *, actor: str = "admin"
    ) -> None:
        """Scope an app's token to ``prompts`` (None: every prompt); audited."""
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            user = self._user(session, name)
            scope = self._scope_for(user.role, prompts)
            user.prompt_scope = json.dumps(list(scope)) if scope is not None else None
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor,
                action="user.scope",
                subject=f"user:{name}",
                detail={"prompts": list(scope) if scope is not None else None},
            )

    def rotate_token(
        self, name: str, *, actor: str = "admin", expires_in: timedelta | None = None
    ) -> str:
        token = new_token()
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            user = self._user(session, name)
            user.token_hash = hash_token(token)
            user.token_expires_at = now + expires_in if expires_in else None
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor,
                action="token.rotate",
                subject=f"user:{name}",
                detail={},
            )
        return token

    def disable_user(self, name: str, *, actor: str = "admin") -> None:
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            user = self._user(session, name)
            if user.disabled:
                return
            user.disabled = True
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor,
                action="user.disable",
                subject=f"user:{name}",
                detail={},
            )

    def users(self) -> list[tuple[str, str, bool]]:
        with self.db.reading() as session:
            return [(u.name, u.role, u.disabled) for u in repo.list_users(session)]

    @staticmethod
    def _user(session: Session, name: str) -> UserRow:
        user = repo.user_by_name(session, name)
        if user is None:
            raise NotFoundError(f"no user named {name}", hint="List users with the admin tools.")
        return user

    # --- versions --------------------------------------------------------------------

    def push_version(self, actor: Actor, push: VersionPush) -> PushResult:
        _require(actor, "author", "pushing a version")
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
            rows = repo.versions_of(session, prompt_row, after_number=after, limit=_page(limit))
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
                session, offset=max(offset, 0), limit=_page(limit), scope=scope
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

    def _prompt(self, session: Session, name: str) -> PromptRow:
        _validated_prompt(name)
        row = repo.prompt_by_name(session, name)
        if row is None:
            raise NotFoundError(f"no prompt named {name!r}", hint="Push a version of it first.")
        return row

    # --- reviews ---------------------------------------------------------------------

    def review(self, actor: Actor, version_id: uuid.UUID, review: ReviewIn) -> Review:
        _require(actor, "reviewer", "reviewing")
        if review.reviewer is not None and review.reviewer != actor.name:
            raise PermissionDeniedError(
                f"the review claims the reviewer {review.reviewer!r} but the token belongs to "
                f"{actor.name!r}",
                hint="Reviewers are taken from the token; leave 'reviewer' out.",
            )
        if review.decision == "request_changes" and not review.comment.strip():
            raise InputError(
                "requesting changes needs a comment that says what should change",
                hint="Send the review again with a non-empty 'comment'.",
            )
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            found = repo.versions_with_prompt(session, [version_id]).get(version_id)
            if found is None:
                raise NotFoundError(f"no version {version_id}", hint="Push it before reviewing.")
            version, prompt_name = found
            if review.content_hash != version.content_hash:
                raise HashMismatchError(
                    f"the review is for content {review.content_hash[:12]}... but version "
                    f"{version_id} has {version.content_hash[:12]}...",
                    hint="Review the version's current content and send its content_hash.",
                )
            if review.decision == "approve" and version.author == actor.name:
                raise PermissionDeniedError(
                    f"{actor.name} wrote v{version.number} of {prompt_name} and cannot approve it",
                    hint="Ask another reviewer to approve it.",
                )
            SuiteService.check_review(session, prompt_name, version, review)
            row = ReviewRow(
                id=uuid.uuid4(),
                version_id=version_id,
                content_hash=version.content_hash,
                reviewer=actor.name,
                decision=review.decision,
                comment=review.comment,
                evidence=review.evidence.model_dump_json() if review.evidence else None,
                created_at=now,
                suite_hash=review.suite_hash,
            )
            session.add(row)
            repo.add_change(
                session, head, kind="review", prompt=prompt_name, ref=str(row.id), at=now
            )
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor.name,
                action=f"review.{review.decision}",
                subject=f"prompt:{prompt_name}",
                detail={
                    "version": str(version_id),
                    "number": version.number,
                    "suite": review.suite_hash,
                    "comment": review.comment,
                    "evidence": review.evidence.model_dump(mode="json")
                    if review.evidence
                    else None,
                },
            )
            return repo.to_review(row, prompt_name)

    def reviews(self, version_id: uuid.UUID) -> list[Review]:
        with self.db.reading() as session:
            found = repo.versions_with_prompt(session, [version_id]).get(version_id)
            if found is None:
                raise NotFoundError(f"no version {version_id}", hint="Check the version id.")
            return [repo.to_review(r, found[1]) for r in repo.reviews_for(session, version_id)]

    def _approval_problem(self, session: Session, version: VersionRow, prompt: str) -> str | None:
        """Why ``version`` may not go onto a protected label, or None when it may."""
        latest: dict[str, ReviewRow] = {}
        for r in repo.reviews_for(session, version.id):
            latest[r.reviewer] = r  # ordered oldest first: the last one counts
        approvals = [
            r
            for r in latest.values()
            if r.decision == "approve"
            and r.reviewer != version.author
            and r.content_hash == version.content_hash
        ]
        if not approvals:
            return (
                f"v{version.number} of {prompt} is not approved by a reviewer other than its "
                f"author ({version.author})"
            )
        if self.settings.require_eval_evidence:
            return SuiteService.publish_problem(session, prompt, version, approvals)
        return None

    # --- labels ----------------------------------------------------------------------

    def _label_state(self, row: LabelRow, prompt: str) -> LabelState:
        return repo.to_label_state(
            row, prompt, protected=row.name in self.settings.protected_labels
        )

    def label(self, prompt: str, name: str) -> LabelState:
        _validated_label(name)
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, name)
            if row is None:
                raise NotFoundError(
                    f"{prompt} has no label {name!r}", hint="Publish a version to it first."
                )
            return self._label_state(row, prompt)

    def move_label(self, actor: Actor, prompt: str, name: str, move: LabelMove) -> LabelState:
        _validated_label(name)
        if name == "latest":
            raise InputError(
                "'latest' is reserved: as in Langfuse it always means the newest version",
                hint="Pick another label name, e.g. 'staging'.",
            )
        protected = name in self.settings.protected_labels
        _require(actor, "author", f"moving the label {name!r}")
        if protected:
            _require(actor, "publisher", f"moving the protected label {name!r}")
        canary_in = move.target.canary
        if canary_in is not None and canary_in.guards and not canary_in.guards.any_limit():
            raise InputError(
                "the canary's guards set no limit",
                hint="Give at least one of max_error_rate, max_error_rate_over_stable, "
                "max_p95_ms, max_p95_ratio, max_cost_per_call_usd, max_cost_ratio.",
            )
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, name)
            current = repo.target_of(row) if row is not None else None
            if current != move.expected:
                raise StaleLabelError(
                    f"label {name!r} of {prompt} is at "
                    f"{current.describe() if current else 'nothing'}, not at "
                    f"{move.expected.describe() if move.expected else 'nothing'}",
                    expected=move.expected.describe() if move.expected else None,
                    actual=current.describe() if current else None,
                )
            if current == move.target:
                assert row is not None
                return self._label_state(row, prompt)
            wanted = [move.target.version_id]
            if move.target.canary is not None:
                wanted.append(move.target.canary.version_id)
            versions: dict[uuid.UUID, VersionRow] = {}
            for vid in wanted:
                v = repo.version_row(session, vid)
                if v is None or v.prompt_id != prompt_row.id:
                    raise NotFoundError(
                        f"{prompt} has no version {vid}", hint="Push the version first."
                    )
                versions[vid] = v
            if protected:
                for v in versions.values():
                    problem = self._approval_problem(session, v, prompt)
                    if problem:
                        raise PermissionDeniedError(
                            f"refused to move {name!r}: {problem}",
                            hint="Get an approval from another reviewer first"
                            + (
                                ", with evidence of a finished run on the prompt's current "
                                "suite (this registry requires evidence)."
                                if self.settings.require_eval_evidence
                                else "."
                            ),
                        )
            if row is None:
                row = LabelRow(prompt_id=prompt_row.id, name=name, canary_percent=0)
                session.add(row)
            row.version_id = move.target.version_id
            row.canary_version_id = move.target.canary.version_id if move.target.canary else None
            row.canary_percent = move.target.canary.percent if move.target.canary else 0
            guards = move.target.canary.guards if move.target.canary else None
            row.canary_guards = guards.model_dump_json() if guards is not None else None
            row.halted = None
            row.updated_at = now
            row.updated_by = actor.name
            session.flush()
            repo.add_change(session, head, kind="label", prompt=prompt, ref=str(row.id), at=now)
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor.name,
                action="label.move",
                subject=f"prompt:{prompt}",
                detail={
                    "label": name,
                    "from": current.model_dump(mode="json") if current else None,
                    "to": move.target.model_dump(mode="json"),
                    "to_number": versions[move.target.version_id].number,
                    "reason": move.reason,
                },
            )
            return self._label_state(row, prompt)

    def resolve(self, prompt: str, label: str, key: str | None = None) -> Resolved:
        """The version ``label`` serves; with a canary, chosen stably from ``key``."""
        _validated_label(label)
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, label)
            if row is None:
                raise NotFoundError(
                    f"{prompt} has no label {label!r}", hint="Publish a version to it first."
                )
            served = "primary"
            version_id = row.version_id
            if (
                row.canary_version_id is not None
                and key is not None
                and canary_pick(prompt, label, key, row.canary_percent)
            ):
                served, version_id = "canary", row.canary_version_id
            version = repo.version_row(session, version_id)
            assert version is not None
            return Resolved(
                prompt=prompt,
                label=label,
                served=served,
                version=repo.to_version(version, prompt),
                state=self._label_state(row, prompt),
            )

    def resolve_body(
        self, prompt: str, label: str, key: str | None = None, *, app: str | None = None
    ) -> ResolvedBody:
        """``resolve`` as the HTTP answer, byte for byte ``resolve(...).model_dump_json()``.

        The hot read path: one indexed lookup of the label's current state per call;
        the version and the serialised answer come from a cache keyed by that state.
        With ``app`` (the caller), the answer is noted in the record of resolutions
        (in memory, written in batches: see :mod:`resolutions`).
        """
        answer = self._resolve_body(prompt, label, key)
        if app is not None and answer.version_id is not None:
            self.telemetry.note_resolution(
                app, key, prompt, label, answer.version_id, answer.number, answer.served
            )
        return answer

    def note_resolved(self, app: str, resolved: Resolved, key: str | None = None) -> None:
        """Note a ``resolve`` answered outside :meth:`resolve_body` (the Langfuse API)."""
        assert resolved.version.number is not None
        self.telemetry.note_resolution(
            app,
            key,
            resolved.prompt,
            resolved.label,
            resolved.version.id,
            resolved.version.number,
            resolved.served,
        )

    def _resolve_body(self, prompt: str, label: str, key: str | None) -> ResolvedBody:
        _validated_label(label)
        _validated_prompt(prompt)
        with self.db.read_connection() as conn:
            pointer = repo.label_pointer(conn, prompt, label)
            if pointer is None:
                raise NotFoundError(
                    f"no prompt named {prompt!r}", hint="Push a version of it first."
                )
            has_label, version_id, canary_id, percent, updated_at, updated_by, guards, halted = (
                pointer
            )
            if not has_label or version_id is None:
                raise NotFoundError(
                    f"{prompt} has no label {label!r}", hint="Publish a version to it first."
                )
            served = "primary"
            if (
                canary_id is not None
                and key is not None
                and canary_pick(prompt, label, key, percent)
            ):
                served = "canary"
            cache_key = (
                prompt,
                label,
                served,
                version_id,
                canary_id,
                percent,
                updated_at,
                updated_by,
                guards,
                halted,
            )
            cached = self._resolved.get(cache_key)
            if cached is not None:
                return cached
            served_id = canary_id if served == "canary" and canary_id is not None else version_id
            version = repo.version_by_id(conn, served_id)
            assert version is not None  # the label's foreign keys guarantee it
        resolved = Resolved(
            prompt=prompt,
            label=label,
            served=served,
            version=repo.to_version(version, prompt),
            state=LabelState(
                prompt=prompt,
                name=label,
                target=repo.make_target(version_id, canary_id, percent, guards),
                protected=label in self.settings.protected_labels,
                updated_at=updated_at,
                updated_by=updated_by,
                halted=repo.halt_of(halted),
            ),
        )
        body = resolved.model_dump_json().encode("utf-8")
        answer = ResolvedBody(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            version_id=version.id,
            number=version.number,
            served=served,
        )
        self._resolved.put(cache_key, answer)
        return answer

    def version_by_number(self, prompt: str, number: int) -> tuple[PromptVersion, list[str]]:
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.version_by_number(session, prompt_row, number)
            if row is None:
                raise NotFoundError(f"{prompt} has no version {number}", hint="Check the number.")
            return repo.to_version(row, prompt), repo.labels_pointing_at(session, row.id)

    def labels_of_version(self, version_id: uuid.UUID) -> list[str]:
        with self.db.reading() as session:
            return repo.labels_pointing_at(session, version_id)

    def version_numbers(self, prompt_row_name: str) -> list[int]:
        with self.db.reading() as session:
            return repo.version_numbers(session, self._prompt(session, prompt_row_name))

    # --- change feed and audit ---------------------------------------------------------

    def changes(self, since: int, limit: int) -> ChangePage:
        limit = _page(limit)
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
        limit = _page(limit)
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


def _page(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def _check_user_name(name: str) -> None:
    if not USER_NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid user name {name!r}",
            hint="Use up to 64 letters, digits, '_', '.', '@' or '-'.",
        )


def expiry(days: float | None) -> timedelta | None:
    return timedelta(days=days) if days else None
