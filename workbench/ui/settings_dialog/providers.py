"""Settings → Providers: the provider profiles (add, edit, remove), the key of each
(typed once, held in memory and written to the keychain only on Save, never shown
again), its prices, and "Test connection", which lists the server's models for
Compare (kept, and cached on Save)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.app.models import ModelCache, ModelListing, list_models, listing_for
from workbench.app.services import key_resolver
from workbench.core.errors import UsageError, WorkbenchError
from workbench.providers.profiles import (
    ProviderProfile,
    format_prices,
    parse_prices,
    profile_problem,
)
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.errors import ErrorReporter, failure_line
from workbench.ui.ops import run_in_thread

FAMILIES = ("openai", "anthropic", "gemini", "ollama")
NEW_KEY_PLACEHOLDER = "type to store a new key (never shown again)"
MODELS_PLACEHOLDER = "extra model names, comma-separated; listed models are added automatically"


class ProvidersPage(QWidget):
    """The profile list on the left, the selected (or a new) profile's form on the right."""

    def __init__(
        self,
        settings: Settings,
        secrets: Callable[[], SecretStore],
        reporter: ErrorReporter,
        model_cache: ModelCache,
    ) -> None:
        super().__init__()
        self.settings = settings
        """The dialog's copy of the settings: profiles are taken into its ``providers``."""
        self.secrets = secrets
        self.reporter = reporter
        self.model_cache = model_cache
        self.pending_keys: dict[str, str] = {}  # key name -> value, written on Save
        self.listings: dict[str, ModelListing] = {}  # profile -> listed here, cached on Save
        self._listing_threads: dict[str, threading.Thread] = {}
        self.editing: str | None = None  # the profile shown in the form (None: a new one)
        self._loaded_form: tuple[object, ...] | None = None
        row = QHBoxLayout(self)
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

    def _profiles(self) -> list[ProviderProfile]:
        return [ProviderProfile.model_validate(p) for p in self.settings.providers]

    def reload_profiles(self, select: str | None = None) -> None:
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
        self.editing = profile.name
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
        if key_name and key_name in self.pending_keys:
            text = "new key typed: stored in the keychain when you press Save"
        elif key_name:
            text = "stored in the keychain; type to replace"
        else:
            text = "no key"
        self.f_key.setPlaceholderText(text)

    def listing(self, profile: ProviderProfile) -> ModelListing | None:
        """What is known of ``profile``'s models: listed in this dialog, else cached."""
        here = self.listings.get(profile.name)
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
        self.editing = None
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
        if self.editing is not None:
            base = next(
                (dict(p) for p in self.settings.providers if p.get("name") == self.editing), {}
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

    def take_form(self) -> ProviderProfile:
        """Put the form's profile into the settings (in place; new ones at the end) and
        hold a typed key for Save. Raises :class:`UsageError` for a form that cannot be."""
        profile = self.form_profile()
        if profile.name == "echo":
            raise UsageError("'echo' is the built-in echo provider", hint="Choose another name.")
        names = [p.get("name") for p in self.settings.providers]
        if profile.name in names and profile.name != self.editing:
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
            self.pending_keys[profile.key_name] = key
        raw = profile.model_dump(mode="json")
        if self.editing in names:
            self.settings.providers[names.index(self.editing)] = raw
        else:
            self.settings.providers.append(raw)
        self.reload_profiles(select=profile.name)  # shows it again: the key field is cleared
        return profile

    @Slot()
    def _save_profile(self) -> None:
        try:
            profile = self.take_form()
        except WorkbenchError as exc:
            self.reporter.report(exc, "save the profile")
            return
        self.profile_status.setText(
            f"Profile {profile.name} is in the list; Save writes it. " + self.profile_status.text()
        )

    @Slot()
    def _remove_profile(self) -> None:
        name = self.editing
        if name is None:
            self._new_profile()
            return
        self.settings.providers = [p for p in self.settings.providers if p.get("name") != name]
        self.listings.pop(name, None)
        self.reload_profiles()

    def _key_for(self, profile: ProviderProfile) -> str | None:
        """A key typed in the form or held for Save; None: read the keychain."""
        return self.f_key.text() or self.pending_keys.get(profile.key_name or "") or None

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
            self.listings[profile.name] = listing
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
                self.profile_status.setText(failure_line(exc))
                return
            finish(listing_for(profile, None, exc, self.listing(profile)))

        self._listing_threads[profile.name] = run_in_thread(work, done, failed)
