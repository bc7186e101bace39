"""Registry errors and the one mapping between HTTP and the error tree.

The registry extends the tree of :mod:`workbench.core.errors`::

    WorkbenchError
     ├── UsageError
     │    └── AuthenticationError        401: missing, unknown, expired or disabled token
     ├── InputError
     │    ├── PayloadTooLargeError       413: the request body is over the server's limit
     │    ├── UndecodableBodyError       400: an OTLP body that cannot be decoded
     │    └── UnsupportedMediaTypeError  415: an OTLP body in another encoding
     ├── PermissionDeniedError           403: the role or a rule forbids it (the reason says which)
     └── RegistryError                   the registry could not answer properly
          ├── RegistryUnavailableError   no connection, timeout
          └── RegistryServerError        5xx or an answer that breaks the wire contract

The server turns an exception into ``{"error": Name, "detail": message, "hint": ...}``
with :func:`status_for`; the client turns that body back into the same class with
:func:`error_from_body`. Both sides use this module, so the mapping lives in one place.
"""

from __future__ import annotations

from typing import Any

from workbench.core import errors as core
from workbench.core.errors import (
    EXIT_COULD_NOT_RUN,
    ConflictError,
    InputError,
    NotFoundError,
    StaleLabelError,
    UsageError,
    WorkbenchError,
)


class AuthenticationError(UsageError):
    """The request carried no valid token."""


class PermissionDeniedError(WorkbenchError):
    """The caller is known but the role or a registry rule forbids the action."""


class PayloadTooLargeError(InputError):
    pass


class UndecodableBodyError(InputError):
    """An OTLP export whose body is not what its Content-Type says (OTLP asks for 400)."""


class UnsupportedMediaTypeError(InputError):
    """An OTLP export in an encoding the receiver does not take."""


class LangfuseIncompatibleError(ConflictError):
    """The version exists but the Langfuse SDK would not compile it like the workbench
    (Jinja beyond plain ``{{ name }}``), so the Langfuse API does not serve it."""


class RegistryError(WorkbenchError):
    pass


class RegistryUnavailableError(RegistryError):
    exit_code = EXIT_COULD_NOT_RUN


class RegistryServerError(RegistryError):
    exit_code = EXIT_COULD_NOT_RUN


def status_for(err: WorkbenchError) -> int:
    """The HTTP status the server answers for ``err``."""
    if isinstance(err, AuthenticationError):
        return 401
    if isinstance(err, PermissionDeniedError):
        return 403
    if isinstance(err, PayloadTooLargeError):
        return 413
    if isinstance(err, UndecodableBodyError):
        return 400
    if isinstance(err, UnsupportedMediaTypeError):
        return 415
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, ConflictError):
        return 409
    if isinstance(err, InputError | UsageError):
        return 422
    return 500


def _known_classes() -> dict[str, type[WorkbenchError]]:
    found: dict[str, type[WorkbenchError]] = {}
    for module_vars in (vars(core), globals()):
        for name, obj in module_vars.items():
            if isinstance(obj, type) and issubclass(obj, WorkbenchError):
                found[name] = obj
    return found


_BY_NAME = _known_classes()
_FALLBACK_BY_STATUS: dict[int, type[WorkbenchError]] = {
    400: InputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: InputError,
}


def error_body(err: WorkbenchError) -> dict[str, Any]:
    """The one error body shape; a stale label also says what the target really is."""
    body: dict[str, Any] = {"error": type(err).__name__, "detail": err.message}
    if err.hint:
        body["hint"] = err.hint
    if isinstance(err, StaleLabelError):
        body["expected"] = err.expected
        body["actual"] = err.actual
    return body


def error_from_body(status: int, body: Any) -> WorkbenchError:
    """Rebuild the exception the server raised from its status and error body."""
    name = body.get("error") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    hint = body.get("hint", "") if isinstance(body, dict) else ""
    if not isinstance(detail, str):
        detail = f"the registry answered HTTP {status}"
    if not isinstance(hint, str):
        hint = ""
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        cls = _FALLBACK_BY_STATUS.get(status, RegistryServerError)
    if cls is StaleLabelError:
        assert isinstance(body, dict)
        expected, actual = body.get("expected"), body.get("actual")
        return StaleLabelError(
            detail,
            expected=expected if isinstance(expected, str) else None,
            actual=actual if isinstance(actual, str) else None,
        )
    try:
        return cls(detail, hint=hint)
    except TypeError:  # a subclass with a richer constructor; keep the message
        return _FALLBACK_BY_STATUS.get(status, RegistryServerError)(detail, hint=hint)
