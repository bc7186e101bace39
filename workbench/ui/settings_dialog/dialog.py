"""The Settings dialog: its three pages in tabs, and Save, the one moment anything
typed in it leaves it (settings, keys and the token to the keychain, model listings
to the cache)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QVBoxLayout, QWidget

from workbench.app.models import ModelCache
from workbench.core.errors import UsageError, WorkbenchError
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.errors import ErrorReporter
from workbench.ui.settings_dialog.general import GeneralPage
from workbench.ui.settings_dialog.providers import ProvidersPage
from workbench.ui.settings_dialog.registry import RegistryPage

log = logging.getLogger(__name__)


class SettingsDialog(QDialog):
    """Edits a copy of the settings; nothing is written anywhere until Save.

    Keys and the registry token typed here are held in memory and written to the
    keychain only when the dialog is saved (never on Cancel). Model listings from
    "Test connection" go to the model cache on Save as well (the window lists the
    profiles still without a list after Save). After Save, ``identity_changed`` says
    whether the registry URL or token changed (who the app thinks you are must then be
    asked again)."""

    saved = Signal(object)
    """Emitted on Save with the new :class:`~workbench.settings.Settings`."""

    def __init__(
        self,
        settings: Settings,
        secrets: Callable[[], SecretStore],
        reporter: ErrorReporter,
        parent: QWidget | None = None,
        *,
        model_cache: ModelCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumSize(720, 460)
        self.settings = settings.model_copy(deep=True)
        self._original = settings.model_copy(deep=True)
        self.secrets = secrets
        self.reporter = reporter
        self.model_cache = model_cache or ModelCache.default()
        self.identity_changed = False
        layout = QVBoxLayout(self)
        self.providers = ProvidersPage(self.settings, secrets, reporter, self.model_cache)
        self.registry = RegistryPage(self.settings, secrets, reporter)
        self.general = GeneralPage(self.settings)
        tabs = QTabWidget()
        tabs.addTab(self.providers, "Providers")
        tabs.addTab(self.registry, "Registry")
        tabs.addTab(self.general, "General")
        self.tabs = tabs
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.providers.reload_profiles()

    def result_settings(self) -> Settings:
        general = self.general
        models = [m.strip() for m in general.g_models.text().split(",") if m.strip()]
        for m in models:
            if ":" not in m:
                raise UsageError(
                    f"default model {m!r} needs a profile", hint="Write it as profile:model."
                )
        url = self.registry.registry_url()
        token = self.registry.r_token.text()
        data = self.settings.model_dump()
        if url != self._original.registry_url or token:
            data["registry_user"] = None  # someone else, perhaps: asked again
            data["registry_role"] = None
        tested = self.registry.tested
        if url and tested is not None and tested[:2] == (url, token or None):
            data["registry_user"], data["registry_role"] = tested[2], tested[3]
        data.update(
            registry_url=url,
            default_models=models or ["echo:echo"],
            concurrency=general.g_concurrency.value(),
            theme=general.g_theme.currentText(),
            vault_path=general.g_vault.text().strip() or None,
            budgets={k: (box.value() or None) for k, box in general.g_budgets.items()},
            otel_endpoint=general.otel_endpoint(),
        )
        return Settings.model_validate(data)

    @Slot()
    def _accept(self) -> None:
        """Save: take an edited profile form, then write keys, the token and model
        listings; only now does anything leave the dialog."""
        from workbench.registry.sync import token_key_name

        providers = self.providers
        try:
            if providers.form_changed() and (
                providers.editing is not None or providers.f_name.text().strip()
            ):
                providers.take_form()
            settings = self.result_settings()
            token = self.registry.r_token.text()
            if token and settings.registry_url is None:
                raise UsageError(
                    "a token needs a registry URL", hint="Enter the registry's URL too."
                )
            profiles = [ProviderProfile.model_validate(p) for p in settings.providers]
            used = {p.key_name for p in profiles if p.key_name}
            pending = providers.pending_keys
            store = self.secrets() if (token or used & set(pending)) else None
            for name, value in pending.items():
                if name in used and store is not None:
                    store.set(name, value)
            if token and store is not None and settings.registry_url is not None:
                store.set(token_key_name(settings.registry_url), token)
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the settings")
            return
        pending.clear()
        self.registry.r_token.clear()
        self.identity_changed = bool(token) or settings.registry_url != (
            self._original.registry_url
        )
        self._write_listings(profiles)
        self.settings = settings
        self.saved.emit(settings)
        self.accept()

    def _write_listings(self, profiles: list[ProviderProfile]) -> None:
        """Cache what this dialog listed; forget the lists of removed profiles."""
        kept = {p.name for p in profiles}
        try:
            for profile in profiles:
                listing = self.providers.listings.get(profile.name)
                if listing is not None and listing.is_for(profile):
                    self.model_cache.put(listing)
            for raw in self._original.providers:
                name = str(raw.get("name", ""))
                if name and name not in kept:
                    self.model_cache.remove(name)
        except OSError as exc:  # the lists are a cache: they are asked for again
            log.warning("could not write the model lists to %s: %s", self.model_cache.root, exc)
