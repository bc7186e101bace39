"""Who the author is: the registry login when there is one, else a name asked once.

Order: the login the vault last synced as (the registry names every pushed version's
author after the token's user, so local drafts should say the same), then the login
stored by ``workbench registry login`` or Settings' "Test connection", then
``WORKBENCH_AUTHOR``, then the name the person gave on first run (``Settings.author``).
With none of these, the desktop app asks once (and stores the answer); the CLI falls
back to the OS login.
"""

from __future__ import annotations

import os

from workbench.core.errors import UsageError
from workbench.settings import Settings
from workbench.vault.repository import Vault


def known_author(vault: Vault, settings: Settings) -> str | None:
    """The author name if one is known without asking (None: ask the person)."""
    if vault.actor_source != "default":
        return vault.actor  # given by the caller, or the registry login
    for name in (settings.registry_user, os.environ.get("WORKBENCH_AUTHOR"), settings.author):
        if name and name.strip():
            return name.strip()
    return None


def apply_author(vault: Vault, settings: Settings) -> bool:
    """Make the vault commit as the known author; False when the person must be asked."""
    name = known_author(vault, settings)
    if name is None:
        return False
    vault.actor = name
    return True


def clean_author(text: str) -> str:
    """The name a person typed, trimmed; refuses an empty one."""
    name = " ".join(text.split())
    if not name:
        raise UsageError("an author name is needed", hint="Type the name your versions carry.")
    if len(name) > 200:
        raise UsageError("that name is too long", hint="Use at most 200 characters.")
    return name


def known_role(settings: Settings) -> str:
    """The person's role for data sources' allow-lists: the one the team registry gave
    their login (stored at login), else ``author``, the lowest. Local allow-lists guard
    against mistakes (a prompt reading data it should not); the person owns the vault
    file, so they are not a security boundary against its owner."""
    role = settings.registry_role
    return role if role in ("author", "reviewer", "publisher", "admin") else "author"
