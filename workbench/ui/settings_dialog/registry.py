"""Settings → Registry: the team registry's URL and token (typed once, held in memory
and written to the keychain only on Save, never shown again), and "Test connection",
which asks the registry who the token belongs to."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.app.connection import RegistryConnection
from workbench.core.errors import UsageError, WorkbenchError
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.errors import ErrorReporter, failure_line
from workbench.ui.ops import run_in_thread


class RegistryPage(QWidget):
    """The registry's URL and token, and a test of the connection."""

    def __init__(
        self, settings: Settings, secrets: Callable[[], SecretStore], reporter: ErrorReporter
    ) -> None:
        super().__init__()
        self.secrets = secrets
        self.reporter = reporter
        self.tested: tuple[str, str | None, str, str] | None = None
        """(URL, typed token or None for the keychain's, user, role) of a successful test."""
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.r_url = QLineEdit(settings.registry_url or "")
        self.r_url.setPlaceholderText("e.g. https://registry.example.com (empty: no registry)")
        self.r_token = QLineEdit()
        self.r_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.r_token.setPlaceholderText(
            "stored in the keychain; type to replace"
            if settings.registry_url
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
            f"Signed in as {settings.registry_user}." if settings.registry_user else ""
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

    def registry_url(self) -> str | None:
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
            url = self.registry_url()
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
            self.tested = (url, typed, me[0], me[1])
            self.r_status.setText(f"✔ Connected to {url} as {me[0]} ({me[1]})")

        def failed(exc: BaseException) -> None:
            self.r_test_button.setEnabled(True)
            self.r_status.setText(failure_line(exc))

        self._registry_thread = run_in_thread(work, done, failed)
