"""The test-case table of a prompt: one row per case, one column per variable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.assertions import Assertion, parse_assertion_spec
from workbench.core.cases import read_cases
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.runs import TestCase
from workbench.ui.errors import ErrorReporter
from workbench.ui.stores import CaseStore

_Index = QModelIndex | QPersistentModelIndex


def assertions_text(case: TestCase) -> str:
    """``contains: refund; max_chars: 300; json`` - the short form people type."""
    parts: list[str] = []
    for a in case.assertions:
        if a.value is None:
            parts.append(a.type)
        elif isinstance(a.value, list):
            parts.append(f"{a.type}: {', '.join(a.value)}")
        elif isinstance(a.value, dict):  # json_schema: the schema as compact JSON
            parts.append(f"{a.type}: {json.dumps(a.value, separators=(',', ':'))}")
        elif a.type == "similar" and a.threshold is not None:
            parts.append(f"similar({a.threshold:g}): {a.value}")
        elif a.type == "rubric" and (a.prompt is not None or ";" in str(a.value)):
            # What the short form cannot hold (its own prompt, a ';') as a JSON mapping.
            fields = a.model_dump(include={"value", "model", "threshold", "scale", "prompt"})
            shown = {k: v for k, v in fields.items() if v is not None}
            parts.append(f"rubric: {json.dumps(shown, separators=(',', ':'))}")
        elif a.type == "rubric":
            bound = f", {a.threshold:g}/{a.rubric_scale:g}" if a.threshold is not None else ""
            if a.threshold is None and a.scale is not None:
                bound = f", /{a.scale:g}"
            parts.append(f"rubric({a.model}{bound}): {a.value}")
        else:
            value = f"{a.value:g}" if isinstance(a.value, float) else str(a.value)
            parts.append(f"{a.type}: {value}")
    return "; ".join(parts)


def parse_assertions_text(text: str) -> tuple[Assertion, ...]:
    """The inverse of :func:`assertions_text`. Raises ``InputError`` naming the problem."""
    spec: list[dict[str, Any]] = []
    for part in _parts(text):
        if not part:
            continue
        if part.startswith("rubric("):  # its model reference holds a ':'
            head, _, value = part.partition("):")
            kind = head + ")"
        else:
            kind, _, value = part.partition(":")
        kind, value = kind.strip(), value.strip()
        if kind == "json":
            keys = [k.strip() for k in value.split(",") if k.strip()]
            spec.append({"type": kind, "value": keys or None})
        elif kind == "json_schema":
            try:
                spec.append({"type": kind, "value": json.loads(value)})
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"json_schema: the schema is not JSON ({exc.msg} at {exc.pos})",
                    hint='Write it as JSON, e.g. json_schema: {"type":"object"}',
                ) from exc
        elif kind == "rubric" or kind.startswith("rubric("):
            spec.append(_rubric_spec(kind, value))
        elif kind.startswith("similar(") and kind.endswith(")"):
            try:
                threshold = float(kind[len("similar(") : -1])
            except ValueError as exc:
                raise InputError(
                    f"{kind}: the threshold is not a number",
                    hint="e.g. similar(0.7): the reference answer",
                ) from exc
            spec.append({"type": "similar", "value": value, "threshold": threshold})
        else:
            spec.append({"type": kind, "value": value})
    return tuple(parse_assertion_spec(spec, "assertions"))


def _parts(text: str) -> list[str]:
    """``text`` split at ';', except inside a JSON mapping value (``kind: {...}``): a
    part that opens one takes the next parts until it is valid JSON."""
    pieces = text.split(";")
    out: list[str] = []
    i = 0
    while i < len(pieces):
        part = pieces[i]
        i += 1
        value = part.partition(":")[2].strip()
        if value.startswith("{"):
            joined = part
            j = i
            while not _is_json(joined.partition(":")[2]) and j < len(pieces):
                joined += ";" + pieces[j]
                j += 1
            if _is_json(joined.partition(":")[2]):
                part, i = joined, j
        out.append(part.strip())
    return out


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


_RUBRIC_HINT = (
    "e.g. rubric(openai:gpt-4o-mini): The answer is polite; rubric(oa:m, 4/5): ...; or "
    'rubric: {"value": "...", "model": "oa:m", "prompt": "..."}'
)


def _rubric_spec(kind: str, value: str) -> dict[str, Any]:
    """``rubric(MODEL[, THRESHOLD/SCALE]): text`` or ``rubric: {JSON mapping}``. A model
    reference holds a ':', so the kind is split at the ')' first."""
    if kind == "rubric":
        try:
            fields = json.loads(value)
        except json.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict):
            raise InputError("rubric: name its grader model", hint=_RUBRIC_HINT)
        return {"type": "rubric", **fields}
    inside = kind[len("rubric(") :].rstrip(")")
    model, _, bound = (p.strip() for p in inside.partition(","))
    spec: dict[str, Any] = {"type": "rubric", "value": value, "model": model}
    if bound:
        threshold, _, scale = (p.strip() for p in bound.partition("/"))
        try:
            if threshold:
                spec["threshold"] = float(threshold)
            if scale:
                spec["scale"] = float(scale)
        except ValueError as exc:
            raise InputError(
                f"rubric: {bound!r} is not THRESHOLD/SCALE", hint=_RUBRIC_HINT
            ) from exc
    return spec


MASK = "••••••"


class CaseTableModel(QAbstractTableModel):
    """Editable: column 0 is the case name, then the variables (text values), then the
    case's assertions in their short form (``contains: refund; max_chars: 300``)."""

    changed = Signal()
    rejected = Signal(object)
    """An edit that could not be taken (e.g. an unknown assertion kind): the error."""

    def __init__(self) -> None:
        super().__init__()
        self.variables: list[str] = []
        self.sensitive: set[str] = set()
        """Variables the prompt marks sensitive: shown masked until revealed."""
        self.revealed = False
        self.cases: list[TestCase] = []

    def set_data(self, variables: list[str], cases: list[TestCase]) -> None:
        self.beginResetModel()
        extra = sorted({k for c in cases for k in c.values} - set(variables))
        self.variables = [*variables, *extra]
        self.cases = list(cases)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.cases)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.variables) + 2

    def _assert_column(self) -> int:
        return len(self.variables) + 1

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if section == 0:
                return "Name"
            if 1 <= section <= len(self.variables) and (
                self.variables[section - 1] in self.sensitive
            ):
                return f"{self.variables[section - 1]} (sensitive)"
            if 1 <= section <= len(self.variables):
                return self.variables[section - 1]
            if section == self._assert_column():
                return "Assertions"
            return None
        return str(section + 1)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.cases):
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return None
        case = self.cases[index.row()]
        if index.column() == 0:
            return case.name
        if index.column() == self._assert_column():
            return assertions_text(case)
        if not 1 <= index.column() <= len(self.variables):
            return None
        name = self.variables[index.column() - 1]
        value = case.values.get(name)
        if value is None:
            return ""
        if role == Qt.ItemDataRole.DisplayRole and name in self.sensitive and not self.revealed:
            return MASK
        return str(value)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        case = self.cases[index.row()]
        if index.column() == 0:
            new = case.model_copy(update={"name": str(value)})
        elif index.column() == self._assert_column():
            try:
                new = case.model_copy(update={"assertions": parse_assertions_text(str(value))})
            except InputError as exc:
                self.rejected.emit(exc)
                return False
        else:
            values = dict(case.values)
            name = self.variables[index.column() - 1]
            if value in (None, ""):
                values.pop(name, None)
            else:
                values[name] = value
            new = case.model_copy(update={"values": values})
        self.cases[index.row()] = new
        self.dataChanged.emit(index, index)
        self.changed.emit()
        return True

    def add_case(self) -> None:
        row = len(self.cases)
        self.beginInsertRows(QModelIndex(), row, row)
        self.cases.append(TestCase(name=f"case {row + 1}"))
        self.endInsertRows()
        self.changed.emit()

    def remove_case(self, row: int) -> None:
        if 0 <= row < len(self.cases):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.cases[row]
            self.endRemoveRows()
            self.changed.emit()


class TestCasePanel(QWidget):
    """Edits and imports the cases of the selected prompt; saves on every change."""

    __test__ = False
    cases_changed = Signal()

    def __init__(self, store: CaseStore, reporter: ErrorReporter) -> None:
        super().__init__()
        self.store = store
        self.reporter = reporter
        self.prompt: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = CaseTableModel()
        self.model.changed.connect(self._save)
        self.model.rejected.connect(lambda exc: self.reporter.report(exc, "change the assertions"))
        self.table = QTableView()
        self.table.setObjectName("casesTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        hint = QLabel(
            "One row per test case; columns are the prompt's variables. Saved as you type."
        )
        hint.setObjectName("dimLabel")
        hint.setWordWrap(True)  # a narrow window wraps it beside the buttons, never cuts it
        hint.setMinimumWidth(hint.fontMetrics().averageCharWidth() * 24)
        add = QPushButton("Add case")
        add.clicked.connect(self.model.add_case)
        remove = QPushButton("Remove case")
        remove.clicked.connect(lambda: self.model.remove_case(self.table.currentIndex().row()))
        imp = QPushButton("Import CSV / JSON / YAML…")
        imp.clicked.connect(self._import_dialog)
        self.reveal = QPushButton("Show sensitive values")
        self.reveal.setCheckable(True)
        self.reveal.setToolTip("Sensitive values are masked; showing them is recorded in "
                               "the vault's audit log (who, when, which prompt)")  # fmt: skip
        self.reveal.toggled.connect(self._reveal)
        self.reveal.hide()
        bar.addWidget(hint, 1)
        for b in (self.reveal, add, remove, imp):
            bar.addWidget(b)
        layout.addLayout(bar)

    def set_prompt(
        self, name: str | None, variables: list[str], sensitive: set[str] | None = None
    ) -> None:
        self.prompt = name
        self.model.sensitive = set(sensitive or ())
        self.reveal.blockSignals(True)
        self.reveal.setChecked(False)
        self.reveal.blockSignals(False)
        self.model.revealed = False
        self.model.set_data(variables, self.store.load(name) if name else [])
        self.reveal.setVisible(bool(self.model.sensitive))
        self.setEnabled(name is not None)

    @Slot(bool)
    def _reveal(self, on: bool) -> None:
        """Show or mask the sensitive values; showing them is an audit event."""
        if on and self.prompt is not None:
            try:
                self.store.vault.record_event(
                    "test_cases.reveal", self.prompt,
                    {"variables": sorted(self.model.sensitive)},
                )  # fmt: skip
            except WorkbenchError as exc:
                self.reporter.report(exc, "record that sensitive values were shown")
                self.reveal.setChecked(False)
                return
        self.model.beginResetModel()
        self.model.revealed = on
        self.model.endResetModel()
        self.reveal.setText("Hide sensitive values" if on else "Show sensitive values")

    def import_file(self, path: Path) -> int:
        """Append the cases in ``path`` (CSV, JSON, YAML); returns how many.

        Raises ``WorkbenchError`` (unreadable file, bad format) and changes nothing."""
        cases = read_cases(path)
        self.model.set_data(self.model.variables, [*self.model.cases, *cases])
        self._save()
        return len(cases)

    @Slot()
    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import test cases", "", "Test cases (*.csv *.json *.yaml *.yml)"
        )
        if path:
            try:
                self.import_file(Path(path))
            except WorkbenchError as exc:
                self.reporter.report(exc, "import the test cases")

    @Slot()
    def _save(self) -> None:
        if self.prompt is not None:
            self.store.save(self.prompt, self.model.cases)
            self.cases_changed.emit()
