"""Settings: provider profiles (add, edit, test the connection, which lists the
server's models for Compare; keys go to the keychain on Save, typed once, never shown
again), the team registry (URL; token in the keychain the same way), default models,
concurrency, theme and vault location."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal, Slot
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

from workbench.app.connection import RegistryConnection
from workbench.app.models import ModelCache, ModelListing, list_models, listing_for
from workbench.app.services import key_resolver
from workbench.core.errors import UsageError, WorkbenchError
from workbench.providers.profiles import (
    ProviderProfile,
    format_prices,
    parse_prices,
    profile_problem,
)
from workbench.secrets.redaction import redact
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import run_in_thread

log = logging.getLogger(__name__)

FAMILIES = ("openai", "anthropic", "gemini", "ollama")
NEW_KEY_PLACEHOLDER = "type to store a new key (never shown again)"
MODELS_PLACEHOLDER = "extra model names, comma-separated; listed models are added automatically"


def _failure_line(exc: BaseException) -> str:
    """A failed connection test as one status line: what went wrong, secrets redacted."""
    text = exc.describe() if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    return "✘ " + redact(text)


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
        self._registry_tested: tuple[str, str | None, str, str] | None = None
        """(URL, typed token or None for the keychain's, user) of a successful test."""
        self._pending_keys: dict[str, str] = {}  # key name -> value, written on Save
        self._listings: dict[str, ModelListing] = {}  # profile -> listed here, cached on Save
        self._listing_threads: dict[str, threading.Thread] = {}
        self._editing: str | None = None  # the profile shown in the form (None: a new one)
        self._loaded_form: tuple[object, ...] | None = None
        self.identity_changed = False
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
        self.profile_list.setAccessibleName("Provider profiles")
        self.profile_list.currentRowChanged.connect(self._on_row)
        self.new_profile_button = QPushButton("New profile")
        self.new_profile_button.clicked.connect(self._new_profile)
        left.addWidget(self.profile_list, 1)
        left.addWidget(self.new_profile_button)
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
        self.f_key.setPlaceholderText(NEW_KEY_PLACEHOLDER)
        self.f_concurrency = QSpinBox()
        self.f_concurrency.setRange(0, 512)
        # 0: the profile sets no limit of its own (the run's concurrency applies).
        self.f_concurrency.setSpecialValueText("no limit (the run's)")
        self.f_concurrency.setValue(0)
        self.f_models = QLineEdit()
        self.f_models.setPlaceholderText(MODELS_PLACEHOLDER)
        self.f_models.setToolTip(
            "Models the server lists are offered in Compare by themselves (press Test "
            "connection to list them now). Type names here only for models the server "
            "does not list."
        )
        form.addRow("Name", self.f_name)
        form.addRow("Family", self.f_family)
        form.addRow("Base URL", self.f_url)
        form.addRow("Key name", self.f_key_name)
        form.addRow("API key", self.f_key)
        form.addRow("Concurrency", self.f_concurrency)
        form.addRow("Models", self.f_models)
        self.f_prices = QLineEdit()
        self.f_prices.setPlaceholderText("e.g. my-model=0.5,1.5; llama3=0,0")
        self.f_prices.setToolTip(
            "Your price for a model, in USD per million input,output tokens: it wins over "
            "genai-prices, and a model with no price anywhere shows its cost as unknown. "
            "Separate models with ';'."
        )
        form.addRow("Prices", self.f_prices)
        right.addLayout(form)
        buttons = QHBoxLayout()
        # One save: the dialog's Save writes everything (an edited form included).
        # This button only puts the form into the list on the left, so it is named
        # for that ("Add profile" / "Update profile"), never "Save" a second time.
        self.save_profile_button = QPushButton("Add profile")
        self.save_profile_button.setToolTip(
            "Put this profile in the list on the left; Save (below) writes the settings"
        )
        self.save_profile_button.clicked.connect(self._save_profile)
        self.remove_profile_button = QPushButton("Remove")
        self.remove_profile_button.clicked.connect(self._remove_profile)
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Ask the server for its models; they are offered in Compare")
        self.test_button.clicked.connect(self._test)
        buttons.addWidget(self.save_profile_button)
        buttons.addWidget(self.remove_profile_button)
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)
        right.addLayout(buttons)
        self.profile_status = QLabel()
        self.profile_status.setObjectName("profileStatus")
        self.profile_status.setWordWrap(True)
        self.profile_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.profile_status)
        right.addStretch(1)
        row.addLayout(right, 2)
        return w

    def _profiles(self) -> list[ProviderProfile]:
        return [ProviderProfile.model_validate(p) for p in self.settings.providers]

    def _reload_profiles(self, select: str | None = None) -> None:
        """Fill the list in the settings' order; select ``select`` (default: the first)."""
        names = [str(p.get("name", "")) for p in self.settings.providers]
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        self.profile_list.addItems(names)
        self.profile_list.blockSignals(False)
        if select in names:
            self.profile_list.setCurrentRow(names.index(select))
        elif names:
            self.profile_list.setCurrentRow(0)
        else:
            self._new_profile()

    @Slot(int)
    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.settings.providers):
            self._show_profile(str(self.settings.providers[row].get("name", "")))

    def _form_state(self) -> tuple[object, ...]:
        return (
            self.f_name.text().strip(),
            self.f_family.currentText(),
            self.f_url.text().strip(),
            self.f_key_name.text().strip(),
            self.f_key.text(),
            self.f_concurrency.value(),
            self.f_models.text().strip(),
            self.f_prices.text().strip(),
        )

    def form_changed(self) -> bool:
        """True when the form holds edits not yet taken by "Add/Update profile"."""
        return self._form_state() != self._loaded_form

    def _show_profile(self, name: str) -> None:
        profile = next((p for p in self._profiles() if p.name == name), None)
        if profile is None:
            return
        self._editing = profile.name
        self.save_profile_button.setText("Update profile")
        self.f_name.setText(profile.name)
        self.f_family.setCurrentText(profile.family)
        self.f_url.setText(profile.base_url)
        self.f_key_name.setText(profile.key_name or "")
        self.f_key.clear()
        self._show_key_state(profile.key_name)
        self.f_concurrency.setValue(profile.concurrency or 0)
        self.f_models.setText(", ".join(profile.models))
        self.f_prices.setText(format_prices(profile.prices))
        self._loaded_form = self._form_state()
        self._show_listing(profile)

    def _show_key_state(self, key_name: str | None) -> None:
        if key_name and key_name in self._pending_keys:
            text = "new key typed: stored in the keychain when you press Save"
        elif key_name:
            text = "stored in the keychain; type to replace"
        else:
            text = "no key"
        self.f_key.setPlaceholderText(text)

    def listing(self, profile: ProviderProfile) -> ModelListing | None:
        """What is known of ``profile``'s models: listed in this dialog, else cached."""
        here = self._listings.get(profile.name)
        if here is not None and here.is_for(profile):
            return here
        try:
            return self.model_cache.get(profile)
        except OSError:
            return None

    def _show_listing(self, profile: ProviderProfile) -> None:
        listing = self.listing(profile)
        if listing is None:
            self.profile_status.setText(
                "Models not listed yet: press Test connection, or Save and they are "
                "listed in the background."
            )
        else:
            self.profile_status.setText(listing.describe())

    @Slot()
    def _new_profile(self) -> None:
        self.profile_list.blockSignals(True)
        self.profile_list.setCurrentRow(-1)
        self.profile_list.clearSelection()
        self.profile_list.blockSignals(False)
        self._editing = None
        self.save_profile_button.setText("Add profile")
        edits = (self.f_name, self.f_url, self.f_key_name, self.f_key, self.f_models)
        for edit in (*edits, self.f_prices):
            edit.clear()
        self.f_key.setPlaceholderText(NEW_KEY_PLACEHOLDER)
        self.f_family.setCurrentIndex(0)
        self.f_concurrency.setValue(0)
        self.profile_status.clear()
        self._loaded_form = self._form_state()
        self.f_name.setFocus()

    def form_profile(self) -> ProviderProfile:
        """The form as a profile; fields the form does not show (timeouts, an
        environment variable for the key, ...) are kept from the profile being edited."""
        base: dict[str, object] = {}
        if self._editing is not None:
            base = next(
                (dict(p) for p in self.settings.providers if p.get("name") == self._editing), {}
            )
        try:
            prices = parse_prices(self.f_prices.text())
        except ValueError as exc:
            raise UsageError(
                f"Prices: {exc}", hint="Separate models with ';', or empty the field."
            ) from None
        base.update(
            prices={m: p.model_dump() for m, p in prices.items()},
            name=self.f_name.text().strip(),
            family=self.f_family.currentText(),
            base_url=self.f_url.text().strip(),
            key_name=self.f_key_name.text().strip() or None,
            concurrency=self.f_concurrency.value() or None,
            models=[m.strip() for m in self.f_models.text().split(",") if m.strip()],
        )
        try:
            return ProviderProfile.model_validate(base)
        except ValidationError as exc:
            raise UsageError(
                f"the profile is not valid: {profile_problem(exc)}",
                hint="Fix that field and save again.",
            ) from exc

    def _take_form(self) -> ProviderProfile:
        """Put the form's profile into the settings (in place; new ones at the end) and
        hold a typed key for Save. Raises :class:`UsageError` for a form that cannot be."""
        profile = self.form_profile()
        if profile.name == "echo":
            raise UsageError("'echo' is the built-in echo provider", hint="Choose another name.")
        names = [p.get("name") for p in self.settings.providers]
        if profile.name in names and profile.name != self._editing:
            raise UsageError(
                f"there is already a profile named {profile.name!r}",
                hint="Choose another name, or select that profile in the list to edit it.",
            )
        key = self.f_key.text()
        if key and profile.key_name is None:
            raise UsageError(
                "a key needs a key name", hint="Give the key a name, e.g. openai-work."
            )
        if key and profile.key_name is not None:
            self._pending_keys[profile.key_name] = key
        raw = profile.model_dump(mode="json")
        if self._editing in names:
            self.settings.providers[names.index(self._editing)] = raw
        else:
            self.settings.providers.append(raw)
        self._reload_profiles(select=profile.name)  # shows it again: the key field is cleared
        return profile

    @Slot()
    def _save_profile(self) -> None:
        try:
            profile = self._take_form()
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the profile")
            return
        self.profile_status.setText(
            f"Profile {profile.name} is in the list; Save writes it. " + self.profile_status.text()
        )

    @Slot()
    def _remove_profile(self) -> None:
        name = self._editing
        if name is None:
            self._new_profile()
            return
        self.settings.providers = [p for p in self.settings.providers if p.get("name") != name]
        self._listings.pop(name, None)
        self._reload_profiles()

    def _key_for(self, profile: ProviderProfile) -> str | None:
        """A key typed in the form or held for Save; None: read the keychain."""
        return self.f_key.text() or self._pending_keys.get(profile.key_name or "") or None

    @Slot()
    def _test(self) -> None:
        try:
            profile = self.form_profile()
        except WorkbenchError as exc:
            self.reporter.report(exc, "test the connection")
            return
        self.profile_status.setText(f"Asking {profile.base_url} for its models…")
        self._list_models(profile)

    def _list_models(self, profile: ProviderProfile) -> None:
        """Ask ``profile``'s server for its models off the GUI thread; the answer (or
        why there is none) is shown and kept for Save."""
        typed = self._key_for(profile)
        secrets = self.secrets

        def work() -> list[str]:
            key = typed if typed is not None else key_resolver(None, secrets())(profile)
            return list_models(profile, key)

        self.test_button.setEnabled(False)

        def finish(listing: ModelListing) -> None:
            self._listing_threads.pop(profile.name, None)
            self.test_button.setEnabled(True)
            self._listings[profile.name] = listing
            if self.f_name.text().strip() == profile.name:
                line = listing.describe()
                if listing.error is None:
                    shown = ", ".join(listing.models[:8])
                    more = " …" if len(listing.models) > 8 else ""
                    line = (
                        f"✔ Connected: {len(listing.models)} models ({shown}{more}); "
                        "they are offered in Compare once you press Save."
                    )
                self.profile_status.setText(line)

        def done(models: list[str]) -> None:
            finish(listing_for(profile, models, None))

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                self._listing_threads.pop(profile.name, None)
                self.test_button.setEnabled(True)
                self.profile_status.setText(_failure_line(exc))
                return
            finish(listing_for(profile, None, exc, self.listing(profile)))

        self._listing_threads[profile.name] = run_in_thread(work, done, failed)

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
            connection = RegistryConnection(url, secrets, front_end="app")
            with RegistryClient(url, typed) if typed else connection.open() as client:
                me = client.whoami()
            return me.name, me.role

        self.r_test_button.setEnabled(False)
        self.r_status.setText(f"Asking {url} who you are…")

        def done(me: tuple[str, str]) -> None:
            self.r_test_button.setEnabled(True)
            self._registry_tested = (url, typed, me[0], me[1])
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
        self.g_otel = QLineEdit(self.settings.otel_endpoint or "")
        self.g_otel.setPlaceholderText("off; e.g. http://localhost:4318/v1/traces")
        self.g_otel.setToolTip(
            "An OTLP/HTTP traces endpoint: every model call is sent there as an "
            "OpenTelemetry GenAI span (model, tokens, timings, prompt name and version; "
            "never the text, variables or keys). Empty: off."
        )
        form.addRow("OpenTelemetry", self.g_otel)
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
        if url != self._original.registry_url or self.r_token.text():
            data["registry_user"] = None  # someone else, perhaps: asked again
            data["registry_role"] = None
        tested = self._registry_tested
        if url and tested is not None and tested[:2] == (url, self.r_token.text() or None):
            data["registry_user"], data["registry_role"] = tested[2], tested[3]
        data.update(
            registry_url=url,
            default_models=models or ["echo:echo"],
            concurrency=self.g_concurrency.value(),
            theme=self.g_theme.currentText(),
            vault_path=self.g_vault.text().strip() or None,
            budgets={k: (box.value() or None) for k, box in self.g_budgets.items()},
            otel_endpoint=self._otel_endpoint(),
        )
        return Settings.model_validate(data)

    def _otel_endpoint(self) -> str | None:
        text = self.g_otel.text().strip()
        if not text:
            return None
        if not text.startswith(("http://", "https://")):
            raise UsageError(
                f"the OpenTelemetry endpoint {text!r} is not an http(s) URL",
                hint="e.g. http://localhost:4318/v1/traces (OTLP over HTTP), or leave it empty.",
            )
        return text

    @Slot()
    def _accept(self) -> None:
        """Save: take an edited profile form, then write keys, the token and model
        listings; only now does anything leave the dialog."""
        from workbench.registry.sync import token_key_name

        try:
            if self.form_changed() and (self._editing is not None or self.f_name.text().strip()):
                self._take_form()
            settings = self.result_settings()
            token = self.r_token.text()
            if token and settings.registry_url is None:
                raise UsageError(
                    "a token needs a registry URL", hint="Enter the registry's URL too."
                )
            profiles = [ProviderProfile.model_validate(p) for p in settings.providers]
            used = {p.key_name for p in profiles if p.key_name}
            store = self.secrets() if (token or used & set(self._pending_keys)) else None
            for name, value in self._pending_keys.items():
                if name in used and store is not None:
                    store.set(name, value)
            if token and store is not None and settings.registry_url is not None:
                store.set(token_key_name(settings.registry_url), token)
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the settings")
            return
        self._pending_keys.clear()
        self.r_token.clear()
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
                listing = self._listings.get(profile.name)
                if listing is not None and listing.is_for(profile):
                    self.model_cache.put(listing)
            for raw in self._original.providers:
                name = str(raw.get("name", ""))
                if name and name not in kept:
                    self.model_cache.remove(name)
        except OSError as exc:  # the lists are a cache: they are asked for again
            log.warning("could not write the model lists to %s: %s", self.model_cache.root, exc)
