"""A typed HTTP client for the team registry.

Every failure arrives as an exception from the one error tree: the server's error
body ``{"error": Name, "detail": message, "hint": ...}`` is mapped back to the class
the server raised (see :mod:`workbench.registry.errors`); a dropped connection or
timeout is :class:`RegistryUnavailableError`; an answer that breaks the wire contract
is :class:`RegistryServerError`. Versions the registry returns are checked against
their ``content_hash`` before they reach the caller (a mismatch raises
:class:`HashMismatchError`).

Requests are built from the wire models before anything is sent, so input the
registry would refuse (a NUL character in a commit message, a bad prompt name) is
refused here as :class:`InputError` naming the version and the field: a sync reports
it and goes on, instead of retrying a request that can never succeed.

The token is sent as ``Authorization: Bearer``; it is never put into messages or logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from workbench.core.errors import HashMismatchError, InputError, UsageError
from workbench.core.models import PromptVersion, validate_label_name, validate_prompt_name
from workbench.core.runs import TestCase
from workbench.core.suites import suite_hash
from workbench.registry.errors import (
    AuthenticationError,
    RegistryServerError,
    RegistryUnavailableError,
    error_from_body,
)
from workbench.registry.schemas import (
    TEXT_RULE_ERROR,
    AuditPage,
    AuditReport,
    ChangePage,
    Decision,
    EvalEvidence,
    FolderPolicy,
    LabelMove,
    LabelState,
    LabelTarget,
    PromptInfo,
    PushResult,
    Resolved,
    Review,
    ReviewIn,
    Suite,
    SuitePush,
    VersionPush,
    WhoAmI,
)
from workbench.registry.telemetry_schemas import ProdStats, ServedAnswer

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        if not where and error.get("type") == TEXT_RULE_ERROR:
            parts.append(error["msg"])  # a whole-model check names the field itself
        else:
            parts.append(f"{where or 'value'}: {error['msg']}")
    return "; ".join(parts)


def _prompt_path(name: str) -> str:
    """The URL of prompt ``name``, refused before sending when the name breaks the rule:
    an HTTP client collapses ``..`` parts, and would address another prompt."""
    try:
        return f"/api/v1/prompts/{validate_prompt_name(name)}"
    except ValueError as exc:
        raise InputError(str(exc), hint="Check the prompt name (e.g. 'support/reply').") from exc


def _label_path(prompt: str, label: str) -> str:
    try:
        return f"{_prompt_path(prompt)}/labels/{validate_label_name(label)}"
    except ValueError as exc:
        raise InputError(str(exc), hint="Label names look like 'production' or 'staging'.") from exc


def _build(what: str, hint: str, make: Callable[[], M]) -> M:
    """``make()``, with a refusal of the wire contract turned into an :class:`InputError`."""
    try:
        return make()
    except ValidationError as exc:
        raise InputError(f"{what} cannot be sent: {_problems(exc)}", hint=hint) from exc


def _check(version: PromptVersion) -> PromptVersion:
    if not version.hash_matches():
        raise HashMismatchError(
            f"the registry sent version {version.id} of {version.prompt} whose content does not "
            "match its content_hash",
            hint="The registry or the connection corrupted it; nothing was applied. "
            "Report it to the registry admin.",
        )
    return version


def check_registry_url(url: str) -> str:
    """``url`` as a registry base address (no trailing slash), or a clear error."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text) if text.isprintable() else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{url!r} is not a registry address",
            hint="Write it as a web address, e.g. https://registry.example.com or "
            "http://127.0.0.1:8765.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(
            f"the registry address must not carry a login, query or fragment: {parts.hostname}",
            hint="Give the plain address; the token is asked for separately.",
        )
    return text


class RegistryClient:
    """One registry, one token. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = check_registry_url(base_url)
        if not token.isascii() or not token.isprintable() or " " in token.strip():
            raise UsageError(
                "the registry token holds characters no token has (spaces, control "
                "characters or non-ASCII)",
                hint="Paste the token again exactly as the admin gave it.",
            )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "workbench-registry"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- plumbing --------------------------------------------------------------------

    def login_hint(self, server_hint: str = "") -> str:
        """What to do about a refused token: get a new one (the server's hint), then log
        in again with it, so the keychain holds the new token (issue 12, item 14)."""
        login = f"workbench registry login {self.base_url}"
        first = server_hint.rstrip(". ") if server_hint else "Ask a registry admin for a new token"
        return f"{first}; then log in again with the new token: {login}"

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RegistryUnavailableError(
                f"the registry at {self.base_url} did not answer in time",
                hint="Check the connection; your work is kept locally.",
            ) from exc
        except httpx.TransportError as exc:
            raise RegistryUnavailableError(
                f"cannot reach the registry at {self.base_url} ({type(exc).__name__})",
                hint="Check the URL and the connection; your work is kept locally.",
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            err = error_from_body(response.status_code, body)
            if isinstance(err, AuthenticationError):
                err.hint = self.login_hint(err.hint)
            raise err
        return response

    def _parse(self, response: httpx.Response, model: type[T] | TypeAdapter[T]) -> T:
        adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise RegistryServerError(
                f"the registry's answer to {response.request.method} {response.request.url.path} "
                "does not match the wire contract",
                hint="Client and server versions may differ; update both.",
            ) from exc

    @staticmethod
    def _json(model: BaseModel) -> dict[str, Any]:
        return model.model_dump(mode="json", exclude_none=False)

    # --- identity --------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        return self._parse(self._request("GET", "/api/v1/whoami"), WhoAmI)

    def ready(self) -> bool:
        return self._request("GET", "/readyz").status_code == 200

    # --- versions --------------------------------------------------------------------

    def push_version(self, version: PromptVersion | VersionPush) -> PushResult:
        """Push idempotently: a retry of the same version answers ``created=False``."""
        if isinstance(version, PromptVersion):
            draft = version
            version = _build(
                f"version {draft.display_number} of {draft.prompt}",
                "Fix it in a new version (edit and commit); this one stays local.",
                lambda: VersionPush.of(draft),
            )
        response = self._request("POST", "/api/v1/versions", json=self._json(version))
        result = self._parse(response, PushResult)
        _check(result.version)
        return result

    def version(self, version_id: uuid.UUID) -> PromptVersion:
        return _check(
            self._parse(self._request("GET", f"/api/v1/versions/{version_id}"), PromptVersion)
        )

    def versions(self, prompt: str, *, after: int = 0, limit: int = 200) -> list[PromptVersion]:
        response = self._request(
            "GET", f"{_prompt_path(prompt)}/versions", params={"after": after, "limit": limit}
        )
        return [_check(v) for v in self._parse(response, TypeAdapter(list[PromptVersion]))]

    def prompt(self, name: str) -> PromptInfo:
        return self._parse(self._request("GET", _prompt_path(name)), PromptInfo)

    def prompts(self, *, offset: int = 0, limit: int = 200) -> list[PromptInfo]:
        response = self._request(
            "GET", "/api/v1/prompts", params={"offset": offset, "limit": limit}
        )
        return self._parse(response, TypeAdapter(list[PromptInfo]))

    # --- reviews ---------------------------------------------------------------------

    def review(
        self,
        version_id: uuid.UUID,
        *,
        decision: Decision,
        content_hash: str,
        comment: str = "",
        evidence: EvalEvidence | None = None,
        suite_hash: str | None = None,
    ) -> Review:
        body = _build(
            f"the review of version {version_id}",
            "Edit the comment and decide again.",
            lambda: ReviewIn(
                decision=decision,
                content_hash=content_hash,
                suite_hash=suite_hash,
                comment=comment,
                evidence=evidence,
            ),
        )
        response = self._request(
            "POST", f"/api/v1/versions/{version_id}/reviews", json=self._json(body)
        )
        return self._parse(response, Review)

    def reviews(self, version_id: uuid.UUID) -> list[Review]:
        response = self._request("GET", f"/api/v1/versions/{version_id}/reviews")
        return self._parse(response, TypeAdapter(list[Review]))

    # --- suites and policies ------------------------------------------------------------

    def push_suite(
        self, prompt: str, cases: Sequence[TestCase], *, parent_hash: str | None
    ) -> Suite:
        """Make ``cases`` the prompt's current suite if it still is at ``parent_hash``."""
        body = _build(
            f"the test suite of {prompt}",
            "Fix the cases (workbench cases set) and sync again.",
            lambda: SuitePush(
                suite_hash=suite_hash(cases) or "", cases=tuple(cases), parent_hash=parent_hash
            ),
        )
        response = self._request("PUT", f"{_prompt_path(prompt)}/suite", json=self._json(body))
        return self._check_suite(self._parse(response, Suite))

    def suite(self, prompt: str, hash_: str | None = None) -> Suite:
        """The prompt's current suite, or the stored suite ``hash_``."""
        params = {"hash": hash_} if hash_ else None
        response = self._request("GET", f"{_prompt_path(prompt)}/suite", params=params)
        return self._check_suite(self._parse(response, Suite))

    @staticmethod
    def _check_suite(suite: Suite) -> Suite:
        if suite_hash(suite.cases) != suite.suite_hash:
            raise HashMismatchError(
                f"the registry sent suite {suite.suite_hash[:12]} of {suite.prompt} whose cases "
                "do not match its hash",
                hint="Report it to the registry admin; nothing was applied.",
            )
        return suite

    def policy(self, prompt: str) -> FolderPolicy:
        """The evidence policy in force for ``prompt``."""
        return self._parse(self._request("GET", f"{_prompt_path(prompt)}/policy"), FolderPolicy)

    # --- labels ----------------------------------------------------------------------

    def label(self, prompt: str, name: str) -> LabelState:
        return self._parse(self._request("GET", _label_path(prompt, name)), LabelState)

    def move_label(
        self,
        prompt: str,
        name: str,
        *,
        target: LabelTarget,
        expected: LabelTarget | None,
        reason: str,
    ) -> LabelState:
        """Compare-and-swap; raises :class:`StaleLabelError` (with ``actual``) on a lost race.
        The registry refuses an empty ``reason`` (it goes into the audit log)."""
        body = _build(
            f"moving {name!r} of {prompt}",
            "Edit the reason and try again.",
            lambda: LabelMove(expected=expected, target=target, reason=reason),
        )
        response = self._request("PUT", _label_path(prompt, name), json=self._json(body))
        return self._parse(response, LabelState)

    def resolve(
        self,
        prompt: str,
        label: str = "production",
        *,
        key: str | None = None,
        etag: str | None = None,
    ) -> tuple[Resolved | None, str | None]:
        """``(resolved, etag)``; ``(None, etag)`` when ``etag`` is still current (HTTP 304)."""
        params: dict[str, str] = {"label": label}
        if key is not None:
            params["key"] = key
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request(
            "GET", f"{_prompt_path(prompt)}/resolve", params=params, headers=headers
        )
        new_etag = response.headers.get("ETag")
        if response.status_code == 304:
            return None, new_etag
        resolved = self._parse(response, Resolved)
        _check(resolved.version)
        return resolved, new_etag

    # --- change feed and audit ---------------------------------------------------------

    def changes(self, since: int = 0, *, limit: int = 500) -> ChangePage:
        response = self._request("GET", "/api/v1/changes", params={"since": since, "limit": limit})
        page = self._parse(response, ChangePage)
        for change in page.changes:
            if change.version is not None:
                _check(change.version)
        return page

    def audit(self, since: int = 0, *, limit: int = 500, subject: str | None = None) -> AuditPage:
        params: dict[str, str | int] = {"since": since, "limit": limit}
        if subject is not None:
            params["subject"] = subject
        return self._parse(self._request("GET", "/api/v1/audit", params=params), AuditPage)

    def verify_audit(self) -> AuditReport:
        return self._parse(self._request("GET", "/api/v1/audit/verify"), AuditReport)

    # --- production telemetry ----------------------------------------------------------

    def prod_stats(
        self, prompt: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> ProdStats:
        """Production figures of ``prompt`` per version and label (default: the last 24 h)."""
        params = {
            k: v.isoformat() for k, v in (("since", since), ("until", until)) if v is not None
        }
        response = self._request("GET", f"{_prompt_path(prompt)}/stats", params=params)
        return self._parse(response, ProdStats)

    def served(
        self,
        *,
        trace_id: str | None = None,
        app: str | None = None,
        key: str | None = None,
        at: datetime | None = None,
    ) -> ServedAnswer:
        """What served a production request: by trace id, or by app, caller key and time."""
        if trace_id is None and (app is None or at is None):
            raise UsageError(
                "give a trace id, or an app and a time",
                hint="e.g. --trace-id 4bf92f3577b34da6a3ce929d0e0e4736, or --app shop "
                "--key user-42 --at 2026-12-04T10:00:00Z",
            )
        params: dict[str, str] = {}
        if trace_id is not None:
            params["trace_id"] = trace_id
        if app is not None:
            params["app"] = app
        if key is not None:
            params["key"] = key
        if at is not None:
            params["at"] = at.isoformat()
        return self._parse(self._request("GET", "/api/v1/served", params=params), ServedAnswer)
