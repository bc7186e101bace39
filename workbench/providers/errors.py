"""Errors a model provider can cause, and the one place HTTP failures map to them.

Every provider family raises only these, so the engine can record a clear cell
error and the person sees what happened and what to do. Messages never contain
an API key: text that came from a server is passed through :func:`redact` with
the key that was sent before it reaches a message.

::

    WorkbenchError
     └── ProviderError                  a call to a model provider failed
          ├── KeyRejectedError          401/403: wrong, missing or revoked key
          ├── BadRequestError           400/422: the provider refused the request
          ├── ModelNotFoundError        404: no such model (or endpoint) there
          ├── RateLimitError            429: too many requests (``retry_after``)
          ├── ServerError               5xx, 408, 409: the provider failed
          ├── ProviderTimeout           no answer / no next chunk in time
          ├── ConnectionFailed          no connection (refused, DNS, reset)
          │    └── ProviderUnreachable  the engine's circuit breaker is open: not tried
          ├── BrokenStreamError         the stream stopped before it was finished
          ├── ProtocolError             the answer is not what the API promises
          ├── DeadlineExceeded          the call or the run ran past its total deadline
          └── AnswerTooLarge            the answer grew past the run's size bound
"""

from __future__ import annotations

from workbench.core.errors import EXIT_COULD_NOT_RUN, EXIT_USAGE, WorkbenchError

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""Statuses that say "try again later"; every other 4xx is the request's fault."""


class ProviderError(WorkbenchError):
    """A provider call failed. ``retryable`` tells the retry policy whether to try again.
    For the CLI it could not run (exit 3), unless the request itself was at fault."""

    default_hint = "Check the provider profile and try again."
    retryable = False
    exit_code = EXIT_COULD_NOT_RUN

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.detail = message
        """The message without the provider/model prefix."""
        self.status = status
        self.retry_after = retry_after
        where = " ".join(p for p in (provider, f"model {model!r}" if model else "") if p)
        full = f"{where}: {message}" if where else message
        super().__init__(full, hint=hint or self.default_hint)

    @property
    def kind(self) -> str:
        """A short stable name for the failure, for cells, tables and CSV."""
        return _KIND_BY_CLASS.get(type(self), "provider_error")


class KeyRejectedError(ProviderError):
    default_hint = (
        "Check the key stored under the profile's key name (`workbench key set NAME`) "
        "and that it is allowed to use this model."
    )


class BadRequestError(ProviderError):
    exit_code = EXIT_USAGE
    default_hint = "The provider rejected the request; check the model settings (max tokens, ...)."


class ModelNotFoundError(ProviderError):
    exit_code = EXIT_USAGE
    default_hint = (
        "Check the model name; `workbench provider test PROFILE` lists the models it offers."
    )


class RateLimitError(ProviderError):
    retryable = True
    default_hint = "Lower the profile's concurrency limit or wait, then run again."


class ServerError(ProviderError):
    retryable = True
    default_hint = "The provider had a problem on its side; run the failed cells again later."


class ProviderTimeout(ProviderError):
    retryable = True
    default_hint = (
        "The provider is slow or stuck; retry later, or bound each call with "
        "compare --call-deadline SECONDS (and the run with --deadline SECONDS)."
    )


TimeoutError_ = ProviderTimeout
"""Alias matching the brief's name; prefer :class:`ProviderTimeout`."""


class ConnectionFailed(ProviderError):
    retryable = True
    default_hint = "Check the profile's base URL and that the server is running and reachable."
    cause: str | None = None
    """What stopped the connection when known: "connection refused", "connect timeout",
    "host not found" (nobody there: these open the engine's circuit breaker) or
    "connection closed by the server" (e.g. an idle pooled connection; they do not)."""


UNREACHABLE_CAUSES = frozenset({"connection refused", "connect timeout", "host not found"})


class ProviderUnreachable(ConnectionFailed):
    """Raised by the engine, not a server: this profile failed to connect (or answer) too
    many times in a row during the run, so its remaining calls are not made."""

    retryable = False
    default_hint = (
        "Start the server (or check the profile's base URL and network), then run the "
        "failed cells again."
    )


class BrokenStreamError(ProviderError):
    default_hint = "The connection dropped mid-answer; run the cell again."


class ProtocolError(ProviderError):
    default_hint = (
        "The server's answer does not follow the API family's format; check that the "
        "profile's family matches the server."
    )


class DeadlineExceeded(ProviderError):
    """Not retried: the time is spent. A stream that trickles (keep-alives, one token a
    minute) never trips the per-chunk read timeout, so the total bound is this."""

    default_hint = (
        "The call did not finish in time; raise it with compare --call-deadline SECONDS "
        "(or --deadline SECONDS for the whole run), or check the provider."
    )


class AnswerTooLarge(ProviderError):
    """Not retried: the same request would stream the same flood again."""

    default_hint = (
        "The server sent far more text than any model answers; check the profile's base "
        "URL, or raise the bound with compare --max-answer-chars N."
    )


_KIND_BY_CLASS: dict[type[ProviderError], str] = {
    ProviderError: "provider_error",
    KeyRejectedError: "authentication",
    BadRequestError: "bad_request",
    ModelNotFoundError: "model_not_found",
    RateLimitError: "rate_limit",
    ServerError: "server_error",
    ProviderTimeout: "timeout",
    ConnectionFailed: "connection",
    ProviderUnreachable: "unreachable",
    BrokenStreamError: "broken_stream",
    ProtocolError: "protocol",
    DeadlineExceeded: "deadline",
    AnswerTooLarge: "too_large",
}


INPUT_KINDS = frozenset({"render", "bad_request", "model_not_found"})
"""Cell error kinds that are the request's or the setup's fault (fix the input: exit 2);
every other error kind means the call could not be made or finished (exit 3)."""


def without_key(text: str, secret: str | None) -> str:
    """Remove ``secret`` (the call's own key, and nothing else) from text that came from
    a server, where the provider client builds its error. Not the app's redaction:
    ``workbench.secrets.redaction.redact`` also removes every registered secret and
    key-shaped string, and runs on everything the app logs, shows and stores."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "[redacted]")
    return text


def error_for_status(
    status: int,
    detail: str,
    *,
    provider: str,
    model: str = "",
    retry_after: float | None = None,
    kind: str = "",
) -> ProviderError:
    """The one status-code-to-exception mapping for every family.

    ``detail`` is the server's own message (already redacted); ``kind`` is the
    family's error type when it names one more precisely than the status
    (e.g. Gemini's ``API_KEY_INVALID`` on a 400).
    """
    cls: type[ProviderError]
    if status in (401, 403) or kind == "authentication":
        cls = KeyRejectedError
    elif status == 404:
        cls = ModelNotFoundError
    elif status == 429:
        cls = RateLimitError
    elif status in RETRYABLE_STATUSES or status >= 500:
        cls = ServerError
    elif 400 <= status < 500:
        cls = BadRequestError
    else:
        cls = ProtocolError
    detail = " ".join(detail.split())[:300] or "no details given"
    return cls(
        f"HTTP {status}: {detail}",
        provider=provider,
        model=model,
        status=status,
        retry_after=retry_after,
    )
