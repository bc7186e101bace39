"""The local prompt vault: SQLAlchemy over one SQLite file. All vault SQL lives here."""

from workbench.vault.repository import ImportReport, Vault, default_author

__all__ = ["ImportReport", "Vault", "default_author"]
