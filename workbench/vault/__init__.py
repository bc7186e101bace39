"""The local prompt vault: SQLAlchemy over one SQLite file. All vault SQL lives here."""

from workbench.vault.repository import Vault, default_author
from workbench.vault.transfer import ImportReport

__all__ = ["ImportReport", "Vault", "default_author"]
