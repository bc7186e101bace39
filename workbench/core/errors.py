"""The one error tree of Prompt Workbench.

Every error a person can meet carries a message that says what happened and a
``hint`` that says what to do. The CLI maps the tree to exit codes; the UI shows
``message`` and ``hint`` in one place.

The exit-code contract of every command: 0 ok; 1 the thing checked failed (an eval
gate, a compare with failing cells, a damaged vault found by verify); 2 a usage,
configuration or input error (every error below unless stated); 3 could not run
(a registry or provider that cannot be reached or answers with its own failure, a
key that is missing): run it again once that is fixed; nothing was judged.

::

    WorkbenchError                      exit 2 unless stated
     ├── UsageError                     bad arguments or configuration
     │    ├── NotAVaultError            the file is not a Prompt Workbench vault
     │    ├── MissingKeyError           exit 3: a profile's key is nowhere to be found
     │    └── AuthenticationError       registry 401: missing, expired or disabled token  [r]
     ├── VaultBusyError                 exit 3: another writer held the vault too long
     ├── InputError                     bad input data; nothing was changed
     │    ├── TemplateError             Jinja syntax error (line, message)
     │    ├── RenderError               missing / unknown variables at render time
     │    │    └── LimitExceededError   a render ran past its size or time bound     [t]
     │    ├── BundleError               unreadable or malformed import bundle / file
     │    ├── HashMismatchError         content does not match its content_hash
     │    ├── SourceError               a data source read failed: a missing column, no
     │    │    │                        row, a query that writes, a bad answer
     │    │    └── SourceUnavailableError  exit 3: the file, database or server is gone
     │    └── PayloadTooLargeError      registry 413: a body over the server's limit  [r]
     ├── NotFoundError                  no such prompt / version / label
     ├── SourceAccessError              a binding outside a source's allow-list
     ├── ConflictError                  the change collides with the current state
     │    ├── IdenticalCommitError      a commit identical to its parent
     │    ├── DuplicateError            the name / id already exists
     │    ├── StaleLabelError           compare-and-swap on a label lost the race
     │    └── LangfuseIncompatibleError the Langfuse API cannot serve this version  [r]
     ├── PermissionDeniedError          registry 403: the role or a rule forbids it  [r]
     ├── RegistryError                  exit 3: the registry could not answer        [r]
     │    ├── RegistryUnavailableError  no connection, timeout
     │    └── RegistryServerError       5xx or an answer that breaks the wire contract
     ├── ProviderError                  exit 3: a model call failed (one class per
     │                                  failure: KeyRejectedError, RateLimitError, ...) [p]
     ├── KeychainUnavailableError       no usable OS keychain                        [s]
     └── RunIncomplete                  the vault holds other cells than the run made [e]

The classes marked [r] live in ``workbench.registry.errors`` (with the one mapping to
and from HTTP statuses), [p] in ``workbench.providers.errors`` (with the one mapping
from provider statuses, pictured there), [s] in ``workbench.secrets.errors``, [t] in
``workbench.core.render_limits``, [e] in ``workbench.engine.runner``; each package raises
only its own and these.
"""

from __future__ import annotations

from typing import Literal

EXIT_OK = 0
EXIT_FAILED = 1
"""The thing checked failed: a gate, a compare with failing cells, a damaged vault."""
EXIT_USAGE = 2
"""Usage, configuration or input error: fix the command or its input."""
EXIT_COULD_NOT_RUN = 3
"""Could not run (unreachable, a server failing, a missing key): nothing was judged."""


class WorkbenchError(Exception):
    """Base class. ``str(err)`` is the message; ``err.hint`` says what to do."""

    exit_code = EXIT_USAGE

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
    pass


class NotAVaultError(UsageError):
    pass


class MissingKeyError(UsageError):
    """A profile needs a key and none is stored or set: the call could not be made."""

    exit_code = EXIT_COULD_NOT_RUN


class VaultBusyError(WorkbenchError):
    """Another writer (an import, a sync, another workbench process) held the vault for
    longer than the wait allows; nothing was written."""

    exit_code = EXIT_COULD_NOT_RUN


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
        rule: str = "syntax",
    ) -> None:
        self.rule = rule
        """Which check found it (``workbench lint`` names and configures rules by it)."""
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


class SourceError(InputError):
    """Reading a data source failed for a reason in the source or its data. Its message
    names the source, never a value read from it."""


class SourceUnavailableError(SourceError):
    """The source's file, database or server could not be reached: run it again later."""

    exit_code = EXIT_COULD_NOT_RUN


class SourceAccessError(WorkbenchError):
    """A prompt (or a person's role) is not on a data source's allow-list: refused at
    commit, at run and at publish alike."""


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
