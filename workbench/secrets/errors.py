"""The one error this layer adds to the tree in :mod:`workbench.core.errors`.

::

    WorkbenchError
     └── KeychainUnavailableError   no usable OS keychain (none, locked, or plaintext)
"""

from __future__ import annotations

from workbench.core.errors import WorkbenchError


class KeychainUnavailableError(WorkbenchError):
    """There is no OS keychain we are willing to use.

    ``reason`` is a short machine-readable cause: ``"no-backend"``, ``"no-session"``,
    ``"locked"``, ``"plaintext"`` or ``"error"``; ``backend_name`` names the keyring
    backend involved. Neither ever contains a secret.
    """

    def __init__(self, message: str, *, hint: str, reason: str, backend_name: str) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.backend_name = backend_name
