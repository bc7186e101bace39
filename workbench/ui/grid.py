"""Item models for a run: the streaming grid (cases x version·model) and its summary.

The grid adds a totals row and a totals column. Cells are filled by
:meth:`GridModel.apply` with a whole batch at a time (one ``dataChanged``), so
streaming hundreds of cells costs the GUI thread little. What a cell and a total
say in words comes from :mod:`workbench.ui.readouts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from workbench.app.export import cell_record, records_csv, records_json
from workbench.core.runs import (
    CellKey,
    CellResult,
    ModelRef,
    RunSpec,
    SummaryRow,
    TestCase,
    summarize,
)
from workbench.ui.format import fmt_ms, fmt_tokens, fmt_usd, model_label
from workbench.ui.readouts import cell_tooltip, readout_lines, totals_lines
from workbench.ui.table_model import ALIGN_RIGHT, RowsTableModel

_Index = QModelIndex | QPersistentModelIndex
CELL_ROLE = Qt.ItemDataRole.UserRole + 1
STREAM_ROLE = Qt.ItemDataRole.UserRole + 2
KIND_ROLE = Qt.ItemDataRole.UserRole + 3  # "cell" | "total" | "corner"


@dataclass(frozen=True)
class Column:
    version_id: uuid.UUID
    model: ModelRef
    version_label: str

    @property
    def echo(self) -> bool:
        return self.model.profile == "echo"

    @property
    def title(self) -> str:
        """The header: version over model, one per line, so neither is cut."""
        note = "\necho: not a real model" if self.echo else ""
        return f"{self.version_label}\n{self.model}{note}"

    @property
    def full_title(self) -> str:
        note = " (echo: not a real model)" if self.echo else ""
        return f"version {self.version_label} · model {self.model}{note}"


@dataclass(frozen=True)
class RowKey:
    case_index: int
    repeat: int
    title: str


def _gist(cell: CellResult) -> tuple[str, str]:
    if not cell.ok:
        return "error", cell.error_kind or "failed"
    return "ok", " ".join(cell.output.split())


class GridModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.spec: RunSpec | None = None
        self.columns: list[Column] = []
        self.rows: list[RowKey] = []
        self.ended: str | None = None
        """What a cell without a result says once the run is over ("cancelled")."""
        self.cells: dict[tuple[int, int], CellResult] = {}
        self.stream: dict[tuple[int, int], str] = {}
        self._col_of: dict[tuple[uuid.UUID, ModelRef], int] = {}
        self._row_of: dict[tuple[int, int], int] = {}
        self._by_row: dict[int, dict[int, CellResult]] = {}
        self._by_col: dict[int, dict[int, CellResult]] = {}

    # ---- layout ----------------------------------------------------------------------

    def clear(self) -> None:
        """Show no run (another prompt was chosen)."""
        self.beginResetModel()
        self.spec, self.columns, self.rows = None, [], []
        self._col_of, self._row_of = {}, {}
        self.cells, self.stream, self.ended = {}, {}, None
        self._by_row, self._by_col = {}, {}
        self.endResetModel()

    def finish(self, status: str) -> None:
        """The run is over: a cell that has no result will never get one."""
        self.ended = "cancelled" if status in ("cancelled", "failed") else "not run"
        self.stream = {}
        if self.rows and self.columns:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows), len(self.columns)))

    def set_spec(self, spec: RunSpec, version_labels: Mapping[uuid.UUID, str]) -> None:
        self.beginResetModel()
        self.spec, self.ended = spec, None
        self.columns = [
            Column(v, m, version_labels.get(v, v.hex[:8]))
            for v in spec.version_ids
            for m in spec.models
        ]
        self.rows = [
            RowKey(
                i, r, (case.name or f"case {i + 1}") + (f"  #{r + 1}" if spec.repeats > 1 else "")
            )
            for i, case in enumerate(spec.cases)
            for r in range(spec.repeats)
        ]
        self._col_of = {(c.version_id, c.model): i for i, c in enumerate(self.columns)}
        self._row_of = {(r.case_index, r.repeat): i for i, r in enumerate(self.rows)}
        self.cells, self.stream = {}, {}
        self._by_row, self._by_col = {}, {}
        self.endResetModel()

    def position(self, key: CellKey) -> tuple[int, int] | None:
        row = self._row_of.get((key.case_index, key.repeat))
        col = self._col_of.get((key.version_id, key.model))
        return None if row is None or col is None else (row, col)

    def apply(self, deltas: Mapping[CellKey, str], cells: Iterable[CellResult]) -> None:
        """Add streamed text and finished cells; one repaint for the whole batch."""
        touched = False
        for key, text in deltas.items():
            pos = self.position(key)
            if pos is not None and pos not in self.cells:
                self.stream[pos] = self.stream.get(pos, "") + text
                touched = True
        for cell in cells:
            pos = self.position(cell.key)
            if pos is not None:
                self.cells[pos] = cell
                self._by_row.setdefault(pos[0], {})[pos[1]] = cell
                self._by_col.setdefault(pos[1], {})[pos[0]] = cell
                self.stream.pop(pos, None)
                touched = True
        if touched and self.rows and self.columns:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows), len(self.columns)))

    def all_cells(self) -> list[CellResult]:
        return list(self.cells.values())

    def case(self, cell: CellResult) -> TestCase | None:
        if self.spec is None or not 0 <= cell.key.case_index < len(self.spec.cases):
            return None
        return self.spec.cases[cell.key.case_index]

    def row_settled(self, row: int) -> bool:
        """Every cell of ``row`` has its result (or the run is over)."""
        return self.ended is not None or all(
            (row, c) in self.cells for c in range(len(self.columns))
        )

    def row_failed(self, row: int) -> bool:
        return any(not c.passed for c in self._by_row.get(row, {}).values())

    def row_differs(self, row: int) -> bool:
        """The cells of ``row`` did not all give the same answer (outputs compared with
        whitespace runs as one space; a failed call counts as its kind of error)."""
        return len({_gist(c) for c in self._by_row.get(row, {}).values()}) > 1

    def column_order(self, by: str) -> list[int]:
        """The grid's columns in the order that groups them ``by`` "version" (the
        run's own order: each version's models side by side) or "model" (each model's
        versions side by side)."""
        order = list(range(len(self.columns)))
        if by == "model":
            models = {m: i for i, m in enumerate(self.spec.models)} if self.spec else {}
            order.sort(key=lambda c: models.get(self.columns[c].model, 0))  # stable
        return order

    # ---- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or not self.columns else len(self.rows) + 1

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or not self.rows else len(self.columns) + 1

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        tip = role == Qt.ItemDataRole.ToolTipRole
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self.columns):
                column = self.columns[section]
                return column.full_title if tip else column.title
            return "Row total" if section == len(self.columns) else None
        if 0 <= section < len(self.rows):
            return self.rows[section].title
        return "Column total" if section == len(self.rows) else None

    def kind(self, row: int, col: int) -> str:
        if row == len(self.rows) and col == len(self.columns):
            return "corner"
        if row == len(self.rows) or col == len(self.columns):
            return "total"
        return "cell"

    def total_cells(self, row: int, col: int) -> list[CellResult]:
        if row == len(self.rows) and col == len(self.columns):
            return list(self.cells.values())
        if row == len(self.rows):
            return list(self._by_col.get(col, {}).values())
        return list(self._by_row.get(row, {}).values())

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row <= len(self.rows) and 0 <= col <= len(self.columns)):
            return None
        kind = self.kind(row, col)
        if role == KIND_ROLE:
            return kind
        if kind != "cell":
            if role == Qt.ItemDataRole.DisplayRole:
                return "\n".join(totals_lines(self.total_cells(row, col)))
            return None
        cell = self.cells.get((row, col))
        if role == CELL_ROLE:
            return cell
        if role == STREAM_ROLE:
            return self.stream.get((row, col))
        if role == Qt.ItemDataRole.DisplayRole:
            if cell is None:
                if self.ended is not None:
                    return self.ended
                text = self.stream.get((row, col))
                return "waiting…" if text is None else f"streaming…\n{text}"
            if not cell.ok:
                return f"error ({cell.error_kind}): {cell.error}"
            return "\n".join([*readout_lines(cell), cell.output])
        if role == Qt.ItemDataRole.ToolTipRole and cell is not None:
            return cell_tooltip(cell)
        return None

    # ---- export ----------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """One flat record per finished cell, for CSV and JSON export, in the one
        schema the CLI writes too (:mod:`workbench.app.export`)."""
        return [
            cell_record(cell, version=self.columns[col].version_label, case=self.rows[row].title)
            for (row, col), cell in sorted(self.cells.items())
        ]

    def to_csv(self) -> str:
        return records_csv(self.records())

    def to_json(self) -> str:
        return records_json(self.records())


def error_color() -> QColor:
    return QColor("#d32f2f")


SORT_ROLE = Qt.ItemDataRole.UserRole + 10
"""A cell's value as a number (or text) to sort by, not its formatted text."""
_UNKNOWN = float("inf")  # unknown cost or time sorts after every known one


def _num(value: float | None) -> float:
    return _UNKNOWN if value is None else value


class SummaryModel(RowsTableModel[SummaryRow]):
    """One row per version x model. The columns a choice is made on come first (pass
    rate, cost, then the typical latency and TTFT), so they are in view beside the
    frozen Version and Model at 1024 px; the rest scrolls."""

    HEADERS = (
        "Version", "Model", "Passed", "Cost", "Latency p50", "TTFT p50", "Errors", "Calls",
        "Latency p95", "TTFT p95", "Tokens in", "Tokens out", "Cached", "Cost / 1k calls",
    )  # fmt: skip
    ERRORS = HEADERS.index("Errors")
    KEY_COLUMNS = 2
    """Version and Model: kept in view while the rest scrolls."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[uuid.UUID, str] = {}
        self._order: dict[uuid.UUID, int] = {}

    def set_cells(self, cells: Iterable[CellResult], labels: Mapping[uuid.UUID, str]) -> None:
        self._order = {v: i for i, v in enumerate(labels)}
        self.labels = dict(labels)
        self.set_rows(
            sorted(
                summarize(cells), key=lambda r: (self._order.get(r.version_id, 99), str(r.model))
            )
        )

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return "Click to sort" if 0 <= section < len(self.HEADERS) else None
        return super().headerData(section, orientation, role)

    def sort_value(self, row: SummaryRow, column: int) -> Any:
        values: tuple[Any, ...] = (
            self._order.get(row.version_id, 99),
            str(row.model),
            row.passed / row.calls if row.checked and row.calls else -1.0,
            _num(row.cost_usd),
            _num(row.latency_p50_ms),
            _num(row.ttft_p50_ms),
            row.errors,
            row.calls,
            _num(row.latency_p95_ms),
            _num(row.ttft_p95_ms),
            row.input_tokens,
            row.output_tokens,
            row.cached,
            _num(row.cost_per_1k_calls_usd),
        )
        return values[column]

    def cell_data(self, row: SummaryRow, column: int, role: int) -> Any:
        if role == SORT_ROLE:
            return self.sort_value(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return ALIGN_RIGHT if column >= 2 else None
        if role == Qt.ItemDataRole.ForegroundRole and column in (2, self.ERRORS) and row.failed:
            return error_color() if column == 2 or row.errors else None
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return str(row.model)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        est = row.tokens_estimated
        rate = f"{row.passed}/{row.calls} ({100 * row.passed / row.calls:.0f}%)"
        values = (
            self.labels.get(row.version_id, row.version_id.hex[:8]),
            model_label(str(row.model), row.echo),
            rate if row.checked and row.calls else "–",
            fmt_usd(row.cost_usd),
            fmt_ms(row.latency_p50_ms),
            fmt_ms(row.ttft_p50_ms),
            str(row.errors),
            str(row.calls),
            fmt_ms(row.latency_p95_ms),
            fmt_ms(row.ttft_p95_ms),
            fmt_tokens(row.input_tokens, est),
            fmt_tokens(row.output_tokens, est),
            str(row.cached),
            fmt_usd(row.cost_per_1k_calls_usd),
        )
        return values[column]
