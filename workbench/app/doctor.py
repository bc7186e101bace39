"""``workbench doctor``: is this machine ready? Each check says what it found and, when
something is off, what to do. Never prints a key or token, only their names."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.core.errors import WorkbenchError

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""


def has_display() -> bool:
    """Can a window open here? (Linux needs X11 or Wayland; an explicit Qt platform wins.)"""
    if sys.platform != "linux":
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in {"offscreen", "minimal", "vnc"}:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except WorkbenchError as exc:
        return Check(name, "fail", exc.message, exc.hint)


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check(
        "python", "ok" if ok else "fail", f"{v.major}.{v.minor}.{v.micro}",
        "" if ok else "Prompt Workbench needs Python 3.11 or newer.",
    )  # fmt: skip


def check_vault(path: Path, create: bool) -> Check:
    from workbench.vault import Vault
    from workbench.vault.files import HEAD_REVISION

    def run() -> Check:
        # A check changes nothing: the default vault is made by the first commit or
        # `vault init`, not by looking for it.
        if not path.exists() and create:
            return Check("vault", "warn", f"no vault yet at {path}",
                         "It is made by your first commit, or now with: workbench vault "
                         "init (the app makes it when it opens).")  # fmt: skip
        if not path.exists():
            return Check("vault", "fail", f"no vault at {path}",
                         f"Create one with: workbench vault init --vault {path}")  # fmt: skip
        with Vault.open(path) as vault:
            integrity = vault.integrity_check()
            broken = vault.verify_audit()
            prompts = vault.count_prompts()
        if integrity != "ok":
            return Check("vault", "fail", f"{path}: integrity check says {integrity}",
                         "Restore the vault from a backup or an exported bundle.")  # fmt: skip
        if broken is not None:
            return Check("vault", "fail", f"{path}: audit chain broken at event {broken}",
                         "The vault file was edited outside the app.")  # fmt: skip
        return Check("vault", "ok", f"{path} ({prompts} prompts, schema {HEAD_REVISION})")

    return _guard("vault", run)


def check_keychain() -> Check:
    from workbench.secrets.keyring_store import KeyringStore

    def run() -> Check:
        store = KeyringStore()
        store.check()
        return Check("keychain", "ok", store.backend_name)

    check = _guard("keychain", run)
    if check.status == "fail":  # keys can still come from environment variables (CI)
        return Check(check.name, "warn", check.detail, check.hint)
    return check


def check_profiles() -> list[Check]:
    from workbench.app.services import profiles_from
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.settings import load_settings

    try:
        profiles = profiles_from(load_settings())
    except WorkbenchError as exc:
        return [Check("settings", "fail", exc.message, exc.hint)]
    out = [Check("settings", "ok", f"{len(profiles) - 1} provider profiles (+ echo)")]
    store = KeyringStore()
    for p in profiles.values():
        if not p.needs_key:
            continue
        found = []
        if p.key_env and os.environ.get(p.key_env):
            found.append(f"${p.key_env}")
        if p.key_name:
            try:
                if store.get(p.key_name) is not None:
                    found.append(f"keychain '{p.key_name}'")
            except WorkbenchError:
                pass
        name = f"provider {p.name}"
        if found:
            out.append(Check(name, "ok", f"key from {' and '.join(found)}"))
        else:
            hint = f"Store it with: workbench key set {p.key_name or 'NAME'}"
            out.append(Check(name, "warn", "no key found", hint))
    return out


def check_registry() -> Check:
    from workbench.app.connection import RegistryConnection

    def run() -> Check:
        connection = RegistryConnection.from_settings(front_end="cli")
        if not connection.configured:
            return Check("registry", "ok", "none configured (work is local)")
        if not connection.token():
            return Check("registry", "warn", f"{connection.url}: no token",
                         f"Log in: workbench registry login {connection.url}")  # fmt: skip
        with connection.open() as client:
            me = client.whoami()
        return Check("registry", "ok", f"{connection.url} as {me.name} ({me.role})")

    check = _guard("registry", run)
    if check.status == "fail" and "reach" in check.detail:
        return Check(check.name, "warn", check.detail, "Offline is fine: sync runs when it can.")
    return check


def check_desktop() -> Check:
    try:
        qt = importlib.util.find_spec("PySide6")
    except ImportError:  # a finder that refuses it outright
        qt = None
    if qt is None:
        return Check("desktop", "warn", "PySide6 is not installed (the CLI works without it)",
                     "Install the app: pip install prompt-workbench")  # fmt: skip
    if not has_display():
        hint = (
            "Use xvfb-run -a make run, or the CLI."
            if shutil.which("xvfb-run")
            else ("Run it in a desktop session, or install xvfb and use xvfb-run -a make run.")
        )
        return Check("desktop", "warn", "no display here (DISPLAY/WAYLAND_DISPLAY unset)", hint)
    return Check("desktop", "ok", "a display is available")


def run_checks(vault_path: Path, create_vault: bool) -> list[Check]:
    return [
        check_python(),
        check_vault(vault_path, create_vault),
        *check_profiles(),
        check_keychain(),
        check_registry(),
        check_desktop(),
    ]
