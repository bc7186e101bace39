"""Settings → General: the models ticked by default in Compare, the concurrency, the
theme, the vault's location, the spending caps and the OpenTelemetry endpoint."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from workbench.core.errors import UsageError
from workbench.settings import Settings


class GeneralPage(QWidget):
    """The app-wide settings that are neither a provider's nor the registry's."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        form = QFormLayout(self)
        self.g_models = QLineEdit(", ".join(settings.default_models))
        self.g_models.setToolTip("Models ticked by default in Compare, as profile:model")
        self.g_concurrency = QSpinBox()
        self.g_concurrency.setRange(1, 256)
        self.g_concurrency.setValue(settings.concurrency)
        self.g_theme = QComboBox()
        self.g_theme.addItems(["system", "light", "dark"])
        self.g_theme.setCurrentText(settings.theme)
        vault_row = QHBoxLayout()
        self.g_vault = QLineEdit(settings.vault_path or "")
        self.g_vault.setPlaceholderText("default location in the data folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_vault)
        vault_row.addWidget(self.g_vault, 1)
        vault_row.addWidget(browse)
        form.addRow("Default models", self.g_models)
        form.addRow("Concurrency", self.g_concurrency)
        form.addRow("Theme", self.g_theme)
        form.addRow("Vault file", vault_row)
        budgets = settings.budgets
        self.g_budgets = {
            "per_run_usd": self._money(budgets.per_run_usd),
            "per_day_usd": self._money(budgets.per_day_usd),
            "per_month_usd": self._money(budgets.per_month_usd),
        }
        form.addRow("Budget per run", self.g_budgets["per_run_usd"])
        form.addRow("Budget per day", self.g_budgets["per_day_usd"])
        form.addRow("Budget per month", self.g_budgets["per_month_usd"])
        self.g_otel = QLineEdit(settings.otel_endpoint or "")
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

    def otel_endpoint(self) -> str | None:
        text = self.g_otel.text().strip()
        if not text:
            return None
        if not text.startswith(("http://", "https://")):
            raise UsageError(
                f"the OpenTelemetry endpoint {text!r} is not an http(s) URL",
                hint="e.g. http://localhost:4318/v1/traces (OTLP over HTTP), or leave it empty.",
            )
        return text
