"""Users, tokens and who is calling: every request's :class:`Actor` is read fresh
from the database by :meth:`UsersMixin.authenticate`; nothing a client claims about
identity counts. Only a token's SHA-256 is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from workbench.core.errors import (
    DuplicateError,
    InputError,
    NotFoundError,
)
from workbench.core.models import (
    utcnow,
    validate_prompt_name,
)
from workbench.registry.errors import AuthenticationError, PermissionDeniedError
from workbench.registry.schemas import ROLE_RANK, UserRole
from workbench.registry.server import repository as repo
from workbench.registry.server.base import ServiceBase
from workbench.registry.server.tables import UserRow

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


def require_role(actor: Actor, role: UserRole, action: str) -> None:
    if not actor.at_least(role):
        raise PermissionDeniedError(
            f"{actor.name} is {actor.role!r}; {action} needs the {role!r} role or higher",
            hint="Ask a registry admin to grant the role.",
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


def _check_user_name(name: str) -> None:
    if not USER_NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid user name {name!r}",
            hint="Use up to 64 letters, digits, '_', '.', '@' or '-'.",
        )


class UsersMixin(ServiceBase):
    """Users and their tokens; each change audited."""

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
