"""Settings: provider profiles (add, edit, test the connection; keys go to the
keychain, typed once, never shown again), the team registry (URL; token in the
keychain the same way), default models, concurrency, theme and vault location."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import UsageError, WorkbenchError
from workbench.providers.http import make_http_client
from workbench.providers.profiles import ProviderProfile, make_client
from workbench.secrets.redaction import redact
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.errors import ErrorReporter
from workbench.ui.worker import run_in_thread

FAMILIES = ("openai", "anthropic", "gemini", "ollama")


def test_connection(profile: ProviderProfile, key: str | None) -> list[str]:
    """Ask the provider for its models (blocking; run it off the GUI thread)."""

    async def go() -> list[str]:
        http = make_http_client(max_connections=2, timeouts=profile.timeouts)
        try:
            return await make_client(profile, key, http).list_models()
        finally:
            await http.aclose()

    return asyncio.run(go())


test_connection.__test__ = False  # type: ignore[attr-defined]


def _failure_line(exc: BaseException) -> str:
    """A failed connection test as one status line: what went wrong, secrets redacted."""
    text = exc.describe() if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    return "✘ " + redact(text)


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        secrets: Callable[[], SecretStore],
        reporter: ErrorReporter,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumSize(720, 460)
        self.settings = settings.model_copy(deep=True)
        self.secrets = secrets
        self.reporter = reporter
        self._registry_user: str | None = None  # from a successful "Test connection"
        layout = QVBoxLayout(self)
        tabs = QTabWidget()
        tabs.addTab(self._providers_tab(), "Providers")
        tabs.addTab(self._registry_tab(), "Registry")
        tabs.addTab(self._general_tab(), "General")
        self.tabs = tabs
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._reload_profiles()

    # ---- providers -------------------------------------------------------------------

    def _providers_tab(self) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        left = QVBoxLayout()
        self.profile_list = QListWidget()
        self.profile_list.currentTextChanged.connect(self._show_profile)
        new = QPushButton("New profile")
        new.clicked.connect(self._new_profile)
        left.addWidget(self.profile_list, 1)
        left.addWidget(new)
        row.addLayout(left, 1)
        right = QVBoxLayout()
        form = QFormLayout()
        self.f_name = QLineEdit()
        self.f_family = QComboBox()
        self.f_family.addItems(FAMILIES)
        self.f_url = QLineEdit()
        self.f_url.setPlaceholderText("empty: the provider's public endpoint")
        self.f_key_name = QLineEdit()
        self.f_key_name.setPlaceholderText("name of the key in the keychain, e.g. openai-work")
        self.f_key = QLineEdit()
        self.f_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.f_key.setPlaceholderText("type to store a new key (never shown again)")
        self.f_concurrency = QSpinBox()
        self.f_concurrency.setRange(0, 512)
        # 0: the profile sets no limit of its own (the run's concurrency applies).
        self.f_concurrency.setSpecialValueText("no limit (the run's)")
        self.f_concurrency.setValue(0)
        self.f_models = QLineEdit()
        self.f_models.setPlaceholderText("comma-separated, for servers that cannot list models")
        form.addRow("Name", self.f_name)
        form.addRow("Family", self.f_family)
        form.addRow("Base URL", self.f_url)
        form.addRow("Key name", self.f_key_name)
        form.addRow("API key", self.f_key)
        form.addRow("Concurrency", self.f_concurrency)
        form.addRow("Models", self.f_models)
        right.addLayout(form)
        buttons = QHBoxLayout()
        self.save_profile_button = QPushButton("Save profile")
        self.save_profile_button.clicked.connect(self._save_profile)
        self.remove_profile_button = QPushButton("Remove")
        self.remove_profile_button.clicked.connect(self._remove_profile)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._test)
        buttons.addWidget(self.save_profile_button)
        buttons.addWidget(self.remove_profile_button)
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)
        right.addLayout(buttons)
        self.profile_status = QLabel()
        self.profile_status.setWordWrap(True)
        self.profile_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.profile_status)
        right.addStretch(1)
        row.addLayout(right, 2)
        return w

    def _profiles(self) -> list[ProviderProfile]:
        return [ProviderProfile.model_validate(p) for p in self.settings.providers]

    def _reload_profiles(self) -> None:
        self.profile_list.clear()
        for p in self._profiles():
            self.profile_list.addItem(p.name)
        if self.profile_list.count():
            self.profile_list.setCurrentRow(0)
        else:
            self._new_profile()

    @Slot(str)
    def _show_profile(self, name: str) -> None:
        profile = next((p for p in self._profiles() if p.name == name), None)
        if profile is None:
            return
        self.f_name.setText(profile.name)
        self.f_family.setCurrentText(profile.family)
        self.f_url.setText(profile.base_url)
        self.f_key_name.setText(profile.key_name or "")
        self.f_key.clear()
        self.f_key.setPlaceholderText(
            "stored in the keychain; type to replace" if profile.key_name else "no key"
        )
        self.f_concurrency.setValue(profile.concurrency or 0)
        self.f_models.setText(", ".join(profile.models))
        self.profile_status.clear()

    @Slot()
    def _new_profile(self) -> None:
        self.profile_list.clearSelection()
        for edit in (self.f_name, self.f_url, self.f_key_name, self.f_key, self.f_models):
            edit.clear()
        self.f_family.setCurrentIndex(0)
        self.f_concurrency.setValue(0)
        self.f_name.setFocus()

    def form_profile(self) -> ProviderProfile:
        try:
            return ProviderProfile(
                name=self.f_name.text().strip(),
                family=self.f_family.currentText(),
                base_url=self.f_url.text().strip(),
                key_name=self.f_key_name.text().strip() or None,
                concurrency=self.f_concurrency.value() or None,
                models=tuple(m.strip() for m in self.f_models.text().split(",") if m.strip()),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UsageError(
                f"the profile is not valid: {where}: {first['msg']}",
                hint="Fix that field and save again.",
            ) from exc

    @Slot()
    def _save_profile(self) -> None:
        try:
            profile = self.form_profile()
            if profile.name == "echo":
                raise UsageError(
                    "'echo' is the built-in echo provider", hint="Choose another name."
                )
            key = self.f_key.text()
            if key:
                if profile.key_name is None:
                    raise UsageError(
                        "a key needs a key name", hint="Give the key a name, e.g. openai-work."
                    )
                self.secrets().set(profile.key_name, key)
                self.f_key.clear()
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the profile")
            return
        others = [p for p in self.settings.providers if p.get("name") != profile.name]
        self.settings.providers = [*others, profile.model_dump(mode="json")]
        self._reload_profiles()
        items = self.profile_list.findItems(profile.name, Qt.MatchFlag.MatchExactly)
        if items:
            self.profile_list.setCurrentItem(items[0])
        self.profile_status.setText(f"Profile {profile.name} saved (written when you press Save).")

    @Slot()
    def _remove_profile(self) -> None:
        name = self.f_name.text().strip()
        self.settings.providers = [p for p in self.settings.providers if p.get("name") != name]
        self._reload_profiles()

    @Slot()
    def _test(self) -> None:
        try:
            profile = self.form_profile()
        except WorkbenchError as exc:
            self.reporter.report(exc, "test the connection")
            return
        typed = self.f_key.text() or None
        secrets = self.secrets

        def work() -> list[str]:
            key = typed
            if key is None and profile.key_name:
                key = secrets().get(profile.key_name)
            return test_connection(profile, key)

        self.test_button.setEnabled(False)
        self.profile_status.setText(f"Asking {profile.base_url or profile.family} for its models…")

        def done(models: list[str]) -> None:
            self.test_button.setEnabled(True)
            shown = ", ".join(models[:8]) + (" …" if len(models) > 8 else "")
            self.profile_status.setText(f"✔ Connected: {len(models)} models ({shown})")

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            self.profile_status.setText(_failure_line(exc))

        self._test_thread = run_in_thread(work, done, failed)

    # ---- registry --------------------------------------------------------------------

    def _registry_tab(self) -> QWidget:
        w = QWidget()
        layout = QVBoxLayout(w)
        form = QFormLayout()
        self.r_url = QLineEdit(self.settings.registry_url or "")
        self.r_url.setPlaceholderText("e.g. https://registry.example.com (empty: no registry)")
        self.r_token = QLineEdit()
        self.r_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.r_token.setPlaceholderText(
            "stored in the keychain; type to replace"
            if self.settings.registry_url
            else "paste your token (stored in the keychain, never shown again)"
        )
        form.addRow("Registry URL", self.r_url)
        form.addRow("Token", self.r_token)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        self.r_test_button = QPushButton("Test connection")
        self.r_test_button.clicked.connect(self._test_registry)
        row.addWidget(self.r_test_button)
        layout.addLayout(row)
        self.r_status = QLabel(
            f"Signed in as {self.settings.registry_user}." if self.settings.registry_user else ""
        )
        self.r_status.setWordWrap(True)
        self.r_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.r_status)
        note = QLabel(
            "Versions you commit stay in this vault and sync with the registry in the "
            "background; reviews and publishing need a reviewer or publisher role."
        )
        note.setObjectName("dimLabel")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        return w

    def _registry_url(self) -> str | None:
        url = self.r_url.text().strip().rstrip("/")
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"the registry URL {url!r} needs a scheme",
                hint="Write it as https://host[:port] (http:// only for a local registry).",
            )
        return url

    @Slot()
    def _test_registry(self) -> None:
        from workbench.registry.client import RegistryClient
        from workbench.registry.sync import token_key_name

        try:
            url = self._registry_url()
            if url is None:
                raise UsageError("no registry URL", hint="Enter the registry's URL first.")
        except WorkbenchError as exc:
            self.reporter.report(exc, "test the connection")
            return
        typed = self.r_token.text() or None
        secrets = self.secrets

        def work() -> tuple[str, str]:
            token = typed or secrets().get(token_key_name(url))
            if not token:
                raise UsageError(
                    f"there is no token for {url} in the keychain",
                    hint="Paste your token (ask a registry admin for one).",
                )
            with RegistryClient(url, token) as client:
                me = client.whoami()
            return me.name, me.role

        self.r_test_button.setEnabled(False)
        self.r_status.setText(f"Asking {url} who you are…")

        def done(me: tuple[str, str]) -> None:
            self.r_test_button.setEnabled(True)
            self._registry_user = me[0]
            self.r_status.setText(f"✔ Connected to {url} as {me[0]} ({me[1]})")

        def failed(exc: BaseException) -> None:
            self.r_test_button.setEnabled(True)
            self.r_status.setText(_failure_line(exc))

        self._registry_thread = run_in_thread(work, done, failed)

    # ---- general ---------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.g_models = QLineEdit(", ".join(self.settings.default_models))
        self.g_models.setToolTip("Models ticked by default in Compare, as profile:model")
        self.g_concurrency = QSpinBox()
        self.g_concurrency.setRange(1, 256)
        self.g_concurrency.setValue(self.settings.concurrency)
        self.g_theme = QComboBox()
        self.g_theme.addItems(["system", "light", "dark"])
        self.g_theme.setCurrentText(self.settings.theme)
        vault_row = QHBoxLayout()
        self.g_vault = QLineEdit(self.settings.vault_path or "")
        self.g_vault.setPlaceholderText("default location in the data folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_vault)
        vault_row.addWidget(self.g_vault, 1)
        vault_row.addWidget(browse)
        form.addRow("Default models", self.g_models)
        form.addRow("Concurrency", self.g_concurrency)
        form.addRow("Theme", self.g_theme)
        form.addRow("Vault file", vault_row)
        budgets = self.settings.budgets
        self.g_budgets = {
            "per_run_usd": self._money(budgets.per_run_usd),
            "per_day_usd": self._money(budgets.per_day_usd),
            "per_month_usd": self._money(budgets.per_month_usd),
        }
        form.addRow("Budget per run", self.g_budgets["per_run_usd"])
        form.addRow("Budget per day", self.g_budgets["per_day_usd"])
        form.addRow("Budget per month", self.g_budgets["per_month_usd"])
        note = QLabel("A new vault location takes effect the next time the app starts.")
        note.setObjectName("dimLabel")
        form.addRow("", note)
        return w

    @staticmethod
    def _money(value: float | None) -> QDoubleSpinBox:
        """A USD cap; 0 shows as "no cap"."""
        box = QDoubleSpinBox()
        box.setRange(0, 1_000_000)
        box.setDecimals(2)
        box.setPrefix("$")
        box.setSpecialValueText("no cap")
        box.setValue(value or 0)
        box.setToolTip("Runs that would go over it are refused before they start; 0: no cap")
        return box

    @Slot()
    def _browse_vault(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Vault file", self.g_vault.text(), "Vault (*.sqlite3)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )  # fmt: skip
        if path:
            self.g_vault.setText(path)

    def result_settings(self) -> Settings:
        models = [m.strip() for m in self.g_models.text().split(",") if m.strip()]
        for m in models:
            if ":" not in m:
                raise UsageError(
                    f"default model {m!r} needs a profile", hint="Write it as profile:model."
                )
        url = self._registry_url()
        data = self.settings.model_dump()
        if url != self.settings.registry_url:
            data["registry_user"] = None
        if url and self._registry_user:
            data["registry_user"] = self._registry_user
        data.update(
            registry_url=url,
            default_models=models or ["echo:echo"],
            concurrency=self.g_concurrency.value(),
            theme=self.g_theme.currentText(),
            vault_path=self.g_vault.text().strip() or None,
            budgets={k: (box.value() or None) for k, box in self.g_budgets.items()},
        )
        return Settings.model_validate(data)

    @Slot()
    def _accept(self) -> None:
        try:
            settings = self.result_settings()
            token = self.r_token.text()
            if token:
                if settings.registry_url is None:
                    raise UsageError(
                        "a token needs a registry URL", hint="Enter the registry's URL too."
                    )
                from workbench.registry.sync import token_key_name

                self.secrets().set(token_key_name(settings.registry_url), token)
                self.r_token.clear()
            self.settings = settings
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the settings")
            return
        self.accept()
