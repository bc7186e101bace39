"""The one error tree of Prompt Workbench.

Every error a person can meet carries a message that says what happened and a
``hint`` that says what to do. The CLI maps the tree to exit codes; the UI shows
``message`` and ``hint`` in one place.

::

    WorkbenchError                      exit 1 unless stated
     ├── UsageError                     exit 2: bad arguments or configuration
     │    └── NotAVaultError            the file is not a Prompt Workbench vault
     ├── InputError                     bad input data; nothing was changed
     │    ├── TemplateError             Jinja syntax error (line, message)
     │    ├── RenderError               missing / unknown variables at render time
     │    ├── BundleError               unreadable or malformed import bundle / file
     │    └── HashMismatchError         content does not match its content_hash
     ├── NotFoundError                  no such prompt / version / label
     └── ConflictError                  the change collides with the current state
          ├── IdenticalCommitError      a commit identical to its parent
          ├── DuplicateError            the name / id already exists
          └── StaleLabelError           compare-and-swap on a label lost the race
"""

from __future__ import annotations

from typing import Literal


class WorkbenchError(Exception):
    """Base class. ``str(err)`` is the message; ``err.hint`` says what to do."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def describe(self) -> str:
        """Message and hint together, for a person."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(WorkbenchError):
    exit_code = 2


class NotAVaultError(UsageError):
    pass


class InputError(WorkbenchError):
    pass


class TemplateError(InputError):
    """A problem in a template. ``severity`` "warning" marks advice that does not
    block (e.g. a declared variable no message uses); ``message_index`` is the
    0-based index of the message it belongs to, when it belongs to one."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        where: str = "",
        hint: str = "",
        message_index: int | None = None,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        self.line = line
        self.where = where
        self.detail = message
        self.message_index = message_index
        self.severity = severity
        loc = where
        if line is not None:
            loc = f"{where} line {line}" if where else f"line {line}"
        full = f"{loc}: {message}" if loc else message
        super().__init__(full, hint=hint or "Fix the template syntax at that line.")


class RenderError(InputError):
    """Rendering failed. ``missing``/``unknown``/``invalid`` name the variables
    without a value, given but unused, and of the wrong type (each sorted)."""

    def __init__(
        self,
        message: str,
        *,
        missing: list[str] | None = None,
        unknown: list[str] | None = None,
        invalid: list[str] | None = None,
        hint: str = "",
    ) -> None:
        self.missing = sorted(missing or [])
        self.unknown = sorted(unknown or [])
        self.invalid = sorted(invalid or [])
        super().__init__(
            message,
            hint=hint or "Give a value for every variable the template uses, and only those.",
        )


class BundleError(InputError):
    pass


class HashMismatchError(InputError):
    pass


class NotFoundError(WorkbenchError):
    pass


class ConflictError(WorkbenchError):
    pass


class IdenticalCommitError(ConflictError):
    pass


class DuplicateError(ConflictError):
    pass


class StaleLabelError(ConflictError):
    def __init__(self, message: str, *, expected: str | None, actual: str | None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            message,
            hint="Someone moved the label first. Look at its current target and retry.",
        )
