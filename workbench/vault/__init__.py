"""The local prompt vault: SQLAlchemy over one SQLite file. All vault SQL lives here.

``Vault`` and ``ImportReport`` are imported on first use (PEP 562), so the run path's
plain-SQL modules (``vault.direct``, ``vault.run_log``) load without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.vault.actor import default_author

if TYPE_CHECKING:
    from workbench.vault.repository import Vault
    from workbench.vault.transfer import ImportReport

__all__ = ["ImportReport", "Vault", "default_author"]


def __getattr__(name: str) -> Any:
    if name == "Vault":
        from workbench.vault.repository import Vault

        return Vault
    if name == "ImportReport":
        from workbench.vault.transfer import ImportReport

        return ImportReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
