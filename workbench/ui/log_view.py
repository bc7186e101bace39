"""The run log: every model call the workbench made, newest first, with filters, the
selected call's answer, variables and retries, and export as JSON lines; and beside
it, Spending: what those calls cost by model, prompt, version, day or month, as a
table and a chart (the same groups as ``workbench costs --by``), exported as CSV/PNG.

The same records as ``workbench log --jsonl`` (:func:`workbench.app.export.log_records`:
variables redacted); a page of calls is read at a time, so a vault of a million calls
opens as fast as one of ten.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.app.export import log_records, records_jsonl
from workbench.charts.cost_charts import money_label
from workbench.core.errors import WorkbenchError
from workbench.core.files import write_atomic
from workbench.core.models import utcnow
from workbench.core.money import CostTotal, format_total
from workbench.core.words import counted
from workbench.ui.column_fit import ColumnFitter
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_ms, fmt_usd
from workbench.ui.table_model import ALIGN_RIGHT, RowsTableModel, setup_row_table
from workbench.vault import Vault
from workbench.vault.runs import COST_GROUPS, RunStore

PAGE = 200
EXPORT_MAX = 100_000
PERIODS = {"All time": None, "Today": 0, "Last 7 days": 7, "Last 30 days": 30}


def period_start(period: str) -> datetime | None:
    """When one of :data:`PERIODS` starts: local midnight, that many days back."""
    days = PERIODS[period]
    if days is None:
        return None
    midnight = utcnow().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=days)


def _list_table(name: str, model: Any, stretch_column: int) -> QTableView:
    """A one-row-per-object table: long text elided in the middle, never wrapped."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    setup_row_table(
        table, stretch_column=stretch_column,
        selection=QAbstractItemView.SelectionMode.SingleSelection,
    )  # fmt: skip
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.setWordWrap(False)
    return table


class LogModel(RowsTableModel[dict[str, Any]]):
    HEADERS = (
        "When", "Prompt", "Version", "Model", "Case", "Tokens", "Cost", "TTFT", "Total",
        "Result",
    )  # fmt: skip

    def cell_data(self, row: dict[str, Any], column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and 5 <= column <= 8:
            return ALIGN_RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 9:  # the whole verdict when the column is narrow
                return row["error"] or self.cell_data(row, 9, Qt.ItemDataRole.DisplayRole)
            if column == 0:
                return f"{datetime.fromisoformat(row['at']).astimezone():%Y-%m-%d %H:%M:%S %Z}"
            if column in (1, 3):
                return row["prompt"] if column == 1 else f"{row['profile']}:{row['model']}"
            return None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if row["cached"]:
            result = "cached (no model called)"
        else:
            result = "ok" if row["ok"] else f"error: {row['error_kind']}"
            checks = row.get("checks") or 0
            if row["ok"] and checks:  # answered is not passed: say how its checks went
                passed = row.get("checks_passed") or 0
                verdict = "passed" if passed == checks else "failed"
                result = f"answered, checks {verdict} {passed}/{checks}"
            if row["retries"]:
                result += f" ({counted(len(row['retries']), 'retry', 'retries')})"
        if row.get("kind") == "grader":  # a rubric's grading call, not a cell of the matrix
            result = f"rubric grader: {result}"
        cost = "–" if not row["ok"] else fmt_usd(row["cost_usd"])
        values = (
            f"{datetime.fromisoformat(row['at']).astimezone():%m-%d %H:%M:%S}",
            row["prompt"],
            row["version"],
            f"{row['profile']}:{row['model']}",
            row["case"],
            f"{row['input_tokens'] or 0:,}→{row['output_tokens'] or 0:,}",
            cost,
            fmt_ms(row["ttft_ms"]),
            fmt_ms(row["latency_ms"]),
            result,
        )
        return values[column]


class LogPanel(QWidget):
    """``loaded`` fires after every (re)load with the number of calls shown."""

    loaded = Signal(int)

    def __init__(self, vault: Vault, reporter: ErrorReporter) -> None:
        super().__init__()
        self.vault = vault
        self.store = RunStore(vault)
        self.reporter = reporter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        bar = QHBoxLayout()
        self.prompt_filter = QLineEdit()
        self.prompt_filter.setPlaceholderText("Prompt (all)")
        self.prompt_filter.setToolTip("Only calls of this prompt (its full name)")
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("Model (all), e.g. openai:gpt-4o")
        self.model_filter.setToolTip("Only this model: profile:model, or a model name")
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        self.errors_only = QCheckBox("Errors only")
        self.refresh_button = QPushButton("Refresh")
        for w in (self.prompt_filter, self.model_filter):
            w.returnPressed.connect(self.reload)
        self.period.currentIndexChanged.connect(lambda _i: self.reload())
        self.errors_only.toggled.connect(lambda _on: self.reload())
        self.refresh_button.clicked.connect(self.reload)
        bar.addWidget(self.prompt_filter, 2)
        bar.addWidget(self.model_filter, 2)
        bar.addWidget(self.period)
        bar.addWidget(self.errors_only)
        bar.addWidget(self.refresh_button)
        layout.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        self.model = LogModel()
        self.table = _list_table("logTable", self.model, stretch_column=3)
        # Every column as wide as its widest entry, the model id whole when the window
        # has room (it is what tells "anthropic:claude-3-5-sonnet-20241022" from its
        # siblings); in a narrow window the result gives way first, then the prompt,
        # then the model id (to 12, 12 and 18 characters: below that a person reads nothing,
        # so a sideways scroll is the lesser harm), each elided in the middle
        # with its tooltip whole. Every readout (tokens, cost, times) keeps its width.
        self.column_fitter = ColumnFitter(
            self.table, shrinkable=(9, 1, 3), spare=9, floor_chars=12, floors={3: 18}
        )
        self.table.selectionModel().currentRowChanged.connect(lambda *_a: self._show_detail())
        split.addWidget(self.table)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("logDetail")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Select a call to see its answer, variables and retries.")
        split.addWidget(self.detail)
        split.setSizes([400, 160])
        layout.addWidget(split, 1)

        foot = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("dimLabel")
        self.more_button = QPushButton("Load more")
        self.more_button.clicked.connect(self.load_more)
        self.export_button = QPushButton("Export JSONL…")
        self.export_button.setToolTip("Every call these filters match, one JSON object a line")
        self.export_button.clicked.connect(lambda: self.export_jsonl())
        foot.addWidget(self.status, 1)
        foot.addWidget(self.more_button)
        foot.addWidget(self.export_button)
        layout.addLayout(foot)
        self._entries: list[Any] = []

    # ---- reading ---------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        since = period_start(self.period.currentText())
        return {
            "prompt": self.prompt_filter.text().strip() or None,
            "model": self.model_filter.text().strip() or None,
            "since": since,
            "errors_only": self.errors_only.isChecked(),
        }

    def _read(self, offset: int, limit: int = PAGE) -> list[dict[str, Any]]:
        entries = self.store.log(**self.filters(), limit=limit, offset=offset)
        return log_records(self.vault, entries)

    @Slot()
    def reload(self) -> None:
        try:
            rows = self._read(0)
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the run log")
            return
        self.model.set_rows(rows)
        self._after_load(len(rows))

    @Slot()
    def load_more(self) -> None:
        try:
            more = self._read(len(self.model.rows))
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the run log")
            return
        self.model.set_rows([*self.model.rows, *more])
        self._after_load(len(more))

    def _after_load(self, page: int) -> None:
        shown = len(self.model.rows)
        full = page == PAGE
        self.more_button.setEnabled(full)
        self.export_button.setEnabled(shown > 0)
        if shown:
            self.status.setText(
                f"{counted(shown, 'call')} shown, newest first" + (" (more below)" if full else "")
            )
        else:
            filtered = any(v for v in self.filters().values())
            self.status.setText(
                "No call matches these filters."
                if filtered
                else "No model calls yet: run a comparison in Compare and every call shows here."
            )
        self._show_detail()
        self.loaded.emit(shown)

    def _show_detail(self) -> None:
        row = self.model.row_at(self.table.currentIndex())
        if row is None:
            self.detail.clear()
            return
        lines = [
            f"{row['prompt']} {row['version']} · {row['profile']}:{row['model']} · "
            f"case {row['case']} · run {row['run_id'][:8]}",
        ]
        if row["variables"]:
            lines.append("variables: " + json.dumps(row["variables"], ensure_ascii=False))
        if row["price_source"]:
            lines.append(f"price: {row['price_source']}")
        for r in row["retries"]:
            lines.append(f"retry: {json.dumps(r, ensure_ascii=False)}")
        if row["error"]:
            lines += ["", f"error ({row['error_kind']}): {row['error']}"]
        lines += ["", row["output"] or "(no answer)"]
        self.detail.setPlainText("\n".join(lines))

    # ---- export ----------------------------------------------------------------------

    def export_jsonl(self, path: Path | None = None) -> Path | None:
        """Every call the filters match (up to 100,000), one JSON object a line."""
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export the run log", "run-log.jsonl", "JSON lines (*.jsonl)"
            )
            if not chosen:
                return None
            path = Path(chosen)
        try:
            write_atomic(path, records_jsonl(self._read(0, EXPORT_MAX)))
        except (WorkbenchError, OSError) as exc:
            from workbench.core.files import os_problem

            problem = os_problem(exc) if isinstance(exc, OSError) else exc
            self.reporter.report(problem or exc, "export the run log")
            return None
        self.status.setText(f"Exported to {path}")
        return path


class SpendingModel(RowsTableModel[Any]):
    HEADERS = ("Group", "Calls", "Errors", "Tokens in→out", "Cost", "Per 1,000 calls")

    def cell_data(self, row: Any, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 1:
            return ALIGN_RIGHT
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        label, g = row
        per = g.cost_per_1k_calls
        values = (
            label,
            f"{g.calls:,}",
            f"{g.errors:,}",
            f"{g.input_tokens:,}→{g.output_tokens:,}",
            money_label(g.cost),
            "unknown" if per is None else fmt_usd(per),
        )
        return values[column]


class SpendingView(QWidget):
    """Spending grouped as chosen, over the chosen period: a table and a chart drawn
    for the pane's width in the window's colours."""

    def __init__(self, vault: Vault, reporter: ErrorReporter) -> None:
        super().__init__()
        self.vault = vault
        self.store = RunStore(vault)
        self.reporter = reporter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Spending by"))
        self.by = QComboBox()
        self.by.addItems(list(COST_GROUPS))
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.png_button.clicked.connect(lambda: self.export_png())
        self.by.currentIndexChanged.connect(lambda _i: self.reload())
        self.period.currentIndexChanged.connect(lambda _i: self.reload())
        bar.addWidget(self.by)
        bar.addWidget(self.period)
        bar.addStretch(1)
        bar.addWidget(self.csv_button)
        bar.addWidget(self.png_button)
        layout.addLayout(bar)
        split = QSplitter(Qt.Orientation.Vertical)
        self.model = SpendingModel()
        self.table = _list_table("spendingTable", self.model, stretch_column=0)
        split.addWidget(self.table)
        self.chart = QLabel()
        self.chart.setObjectName("spendingChart")
        self.chart.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.chart_area = QScrollArea()
        self.chart_area.setWidget(self.chart)
        self.chart_area.setWidgetResizable(False)
        split.addWidget(self.chart_area)
        split.setSizes([180, 380])
        layout.addWidget(split, 1)
        self.status = QLabel()
        self.status.setObjectName("dimLabel")
        layout.addWidget(self.status)
        self.groups: list[tuple[str, Any]] = []
        self.title = ""

    def since(self) -> datetime | None:
        return period_start(self.period.currentText())

    @Slot()
    def reload(self) -> None:
        by = self.by.currentText()
        try:
            groups = self.store.costs_by(by, self.since())
            names: dict[str, str] = {}
            if by == "version":
                for g in groups:
                    try:
                        v = self.vault.version_by_id(uuid.UUID(g.key))
                        names[g.key] = f"{v.prompt} {v.display_number}"
                    except (ValueError, WorkbenchError):
                        pass
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the spending")
            return
        if by in ("day", "month"):
            groups = sorted(groups, key=lambda g: g.key)
        self.groups = [(names.get(g.key, g.key), g) for g in groups]
        self.model.set_rows(self.groups)
        total = sum((g.cost for g in groups), CostTotal())
        calls = sum(g.calls for g in groups)
        period = self.period.currentText().lower()
        self.title = f"Spending by {by}, {period}: {format_total(total)}"
        self.status.setText(
            f"{counted(calls, 'call')} reached a model ({period}): {format_total(total)}. "
            "Cached replays are not spending."
            if groups
            else "Nothing spent yet in this period: runs in Compare show here."
        )
        self.csv_button.setEnabled(bool(groups))
        self.png_button.setEnabled(bool(groups))
        self._draw()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.groups:
            self._draw()

    def _figure(self, width_in: float | None = None) -> Any:
        from workbench.charts.cost_charts import DPI, draw_cost_chart
        from workbench.ui.charts import palette_theme

        width = width_in or max(5.5, (self.chart_area.viewport().width() - 4) / DPI)
        rows = [(label, g.cost) for label, g in self.groups]
        return draw_cost_chart(rows, self.title, palette_theme(self.palette()), width)

    def _draw(self) -> None:
        if not self.groups:
            self.chart.clear()
            self.chart.resize(0, 0)
            return
        buf = io.BytesIO()
        fig = self._figure()
        fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
        pixmap = QPixmap()
        pixmap.loadFromData(buf.getvalue(), "PNG")
        self.chart.setPixmap(pixmap)
        self.chart.resize(pixmap.size())

    def export_csv(self, path: Path | None = None) -> Path | None:
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export spending", "spending.csv",
                                                    "CSV (*.csv)")  # fmt: skip
            if not chosen:
                return None
            path = Path(chosen)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([self.by.currentText(), "calls", "errors", "input_tokens",
                         "output_tokens", "cost_usd", "priced_usd", "unpriced_calls"])  # fmt: skip
        for label, g in self.groups:
            usd = g.cost.usd
            writer.writerow([label, g.calls, g.errors, g.input_tokens, g.output_tokens,
                             "" if usd is None else usd, g.cost.priced_usd,
                             g.cost.unpriced_calls])  # fmt: skip
        return self._write(path, buf.getvalue())

    def export_png(self, path: Path | None = None) -> Path | None:
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export the chart", "spending.png",
                                                    "PNG (*.png)")  # fmt: skip
            if not chosen:
                return None
            path = Path(chosen)
        buf = io.BytesIO()
        fig = self._figure(width_in=9.0)
        fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
        return self._write(path, buf.getvalue())

    def _write(self, path: Path, data: bytes | str) -> Path | None:
        try:
            write_atomic(path, data)
        except OSError as exc:
            from workbench.core.files import os_problem

            self.reporter.report(os_problem(exc) or exc, "export the spending")
            return None
        self.status.setText(f"Exported to {path}")
        return path
