"""The Production page (Log → Production): how a prompt's published versions do in the
apps that use them, and "what served this?" for one call.

Both answers come from the registry (its OTLP receiver's rollups and span records:
``workbench prod`` and ``workbench trace`` print the same, worded by
``workbench.app.production``). Every request runs off the GUI thread; with no registry
the page says how to connect one.
"""

from __future__ import annotations

import html
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.app.connection import RegistryConnection
from workbench.app.production import (
    cost_text,
    ms_text,
    parse_time,
    served_text,
    version_name,
)
from workbench.core.errors import UsageError, WorkbenchError
from workbench.registry.telemetry_schemas import ProdStats, ServedAnswer, VersionStats
from workbench.secrets.redaction import redact
from workbench.ui.ops import run_in_thread
from workbench.ui.table_model import ALIGN_RIGHT, RowsTableModel, setup_row_table

WINDOWS = (("Last 24 hours", 1), ("Last 7 days", 7), ("Last 30 days", 30))


class ProductionModel(RowsTableModel[VersionStats]):
    HEADERS = (
        "Label", "Version", "Calls", "Errors", "p50", "p95", "TTFT p50",
        "Tokens in / out", "Cost", "Rate / day", "Apps",
    )  # fmt: skip

    def cell_data(self, row: VersionStats, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= column <= 9:
            return ALIGN_RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 9:
            return "The cost per day at the rate since the version's first call in the period"
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        errors = f"{row.errors:,}"
        if row.error_rate is not None and row.errors:
            errors += f" ({row.error_rate * 100:.1f}%)"
        values = (
            row.label or "(no label)",
            version_name(row),
            f"{row.calls:,}",
            errors,
            ms_text(row.p50_ms),
            ms_text(row.p95_ms),
            ms_text(row.ttft_p50_ms),
            f"{row.input_tokens:,} / {row.output_tokens:,}",
            cost_text(row, per_day=False),
            cost_text(row),
            ", ".join(f"{a.app} {a.calls:,}" for a in row.by_app),
        )
        return values[column]


class ProductionView(QWidget):
    """``loaded`` after an answer (or an error) was shown: tests wait on it."""

    loaded = Signal()

    def __init__(self, connection: RegistryConnection) -> None:
        super().__init__()
        self.connection = connection
        self.prompt: str | None = None
        self.threads: list[threading.Thread] = []
        self._asked = 0

        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.heading = QLabel("Select a prompt to see how it does in production.")
        self.heading.setWordWrap(True)
        bar.addWidget(self.heading, 1)
        self.window_box = QComboBox()
        self.window_box.setAccessibleName("Period")
        for text, days in WINDOWS:
            self.window_box.addItem(text, days)
        self.window_box.currentIndexChanged.connect(lambda _i: self.reload())
        bar.addWidget(self.window_box)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        bar.addWidget(self.refresh_button)
        layout.addLayout(bar)

        self.model = ProductionModel()
        self.table = QTableView()
        self.table.setAccessibleName("Production figures")
        self.table.setModel(self.model)
        setup_row_table(
            self.table, stretch_column=len(ProductionModel.HEADERS) - 1,
            selection=QAbstractItemView.SelectionMode.SingleSelection,
        )  # fmt: skip
        layout.addWidget(self.table, 2)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        served = QGroupBox("What served this call?")
        form = QFormLayout(served)
        self.trace_id = QLineEdit()
        self.trace_id.setPlaceholderText("trace id (32 hex digits), or fill app and caller key")
        form.addRow("Trace id", self.trace_id)
        self.app_name = QLineEdit()
        self.app_name.setPlaceholderText("the app's registry user, e.g. shop")
        form.addRow("App", self.app_name)
        self.caller_key = QLineEdit()
        self.caller_key.setPlaceholderText("the caller key it resolved with (optional)")
        form.addRow("Caller key", self.caller_key)
        self.at = QLineEdit()
        self.at.setPlaceholderText("when, e.g. 2026-12-04T10:30:00Z (default: now)")
        form.addRow("At", self.at)
        self.find_button = QPushButton("Find")
        self.find_button.clicked.connect(self.find_served)
        form.addRow("", self.find_button)
        self.answer = QTextBrowser()
        self.answer.setAccessibleName("What served this call")
        form.addRow(self.answer)
        layout.addWidget(served, 2)

    def set_prompt(self, name: str | None) -> None:
        if name != self.prompt:
            self.prompt = name
            self.model.set_rows([])

    def _since(self) -> datetime:
        days = int(self.window_box.currentData() or 1)
        return datetime.now(UTC) - timedelta(days=days)

    @Slot()
    def reload(self) -> None:
        prompt = self.prompt
        if prompt is None:
            self.heading.setText("Select a prompt to see how it does in production.")
            self.loaded.emit()
            return
        self._asked += 1
        asked, connection, since = self._asked, self.connection, self._since()
        self.heading.setText(
            f"<b>{html.escape(prompt)}</b> in production: the calls its apps reported to the "
            "registry (OpenTelemetry), per label and version."
        )
        self.status.setText("Asking the registry…")

        def work() -> ProdStats:
            with connection.open() as client:
                return client.prod_stats(prompt, since=since)

        def done(stats: ProdStats) -> None:
            if asked != self._asked:
                return
            self.model.set_rows(list(stats.rows))
            self.status.setText(
                f"{stats.since.astimezone():%Y-%m-%d %H:%M} to "
                f"{stats.until.astimezone():%Y-%m-%d %H:%M}"
                + ("" if stats.rows else ": no production calls reported in this period.")
            )
            self.loaded.emit()

        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(run_in_thread(work, done, lambda exc: self._failed(exc, asked)))

    def _failed(self, exc: BaseException, asked: int | None = None) -> None:
        if not isinstance(exc, WorkbenchError):
            raise exc
        if asked is not None and asked != self._asked:
            return
        text = redact(exc.message) + (f" {redact(exc.hint)}" if exc.hint else "")
        self.status.setText(text)
        self.loaded.emit()

    @Slot()
    def find_served(self) -> None:
        connection = self.connection
        trace = self.trace_id.text().strip() or None
        app = self.app_name.text().strip() or None
        key = self.caller_key.text().strip() or None
        try:
            if trace is None and app is None:
                raise UsageError(
                    "say which call: its trace id, or the app (and caller key) and a time",
                    hint="Fill Trace id, or App and At.",
                )
            at = parse_time(self.at.text()) if self.at.text().strip() else datetime.now(UTC)
        except WorkbenchError as exc:
            self.answer.setPlainText(f"{exc.message}. {exc.hint}")
            self.loaded.emit()
            return

        def work() -> ServedAnswer:
            with connection.open() as client:
                if trace is not None:
                    return client.served(trace_id=trace)
                return client.served(app=app, key=key, at=at)

        def done(answer: ServedAnswer) -> None:
            self.answer.setPlainText(served_text(answer))
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.answer.setPlainText(redact(exc.describe()))
            self.loaded.emit()

        self.answer.setPlainText("Asking the registry…")
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(run_in_thread(work, done, failed))

    def wait_threads(self, timeout: float = 15.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
