"""The editor's "Variables" tab: one row per variable the templates use, with the type,
default, description and sensitivity the author sets. Rows follow the templates (see
``content.is_stale``); data-source bindings are not edited here but kept by name."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import Binding, Variable
from workbench.ui.editor.content import is_stale

VARIABLE_TYPES = ("string", "number", "integer", "boolean", "json")
SENSITIVITY_LEVELS = ("public", "internal", "sensitive")
NAME, TYPE, REQUIRED, DEFAULT, DESCRIPTION, SENSITIVITY = range(6)


class VariablesTable(QTableWidget):
    """The variables as rows; ``changed`` fires on every edit (and row added or removed)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__(0, 6)
        self.setObjectName("variablesTable")
        self.setHorizontalHeaderLabels(
            ["Name", "Type", "Required", "Default", "Description", "Sensitivity"]
        )
        level_header = self.horizontalHeaderItem(SENSITIVITY)
        if level_header is not None:
            level_header.setToolTip(
                "sensitive: values are sent to the model but stored nowhere in clear (the "
                "run log, exports and cache say [sensitive: name])"
            )
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(DESCRIPTION, QHeaderView.ResizeMode.Stretch)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.itemChanged.connect(self.changed)

    def load(self, variables: tuple[Variable, ...]) -> None:
        """Show exactly ``variables``, in their order."""
        self.setRowCount(0)
        for v in variables:
            self.add_row(v)

    def add_row(self, v: Variable) -> None:
        row = self.rowCount()
        self.insertRow(row)
        name = QTableWidgetItem(v.name)
        name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.setItem(row, NAME, name)
        combo = QComboBox()
        combo.addItems(VARIABLE_TYPES)
        combo.setCurrentText(v.type)
        combo.currentTextChanged.connect(self.changed)
        self.setCellWidget(row, TYPE, combo)
        req = QTableWidgetItem()
        req.setFlags((req.flags() | Qt.ItemFlag.ItemIsUserCheckable) & ~Qt.ItemFlag.ItemIsEditable)
        req.setCheckState(Qt.CheckState.Checked if v.required else Qt.CheckState.Unchecked)
        self.setItem(row, REQUIRED, req)
        default = "" if v.default is None else str(v.default)
        self.setItem(row, DEFAULT, QTableWidgetItem(default))
        self.setItem(row, DESCRIPTION, QTableWidgetItem(v.description))
        sensitivity = QComboBox()
        sensitivity.addItems(SENSITIVITY_LEVELS)
        sensitivity.setCurrentText(v.sensitivity)
        sensitivity.setAccessibleName(f"Sensitivity of {v.name}")
        sensitivity.currentTextChanged.connect(self.changed)
        self.setCellWidget(row, SENSITIVITY, sensitivity)

    def _cell_text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return item.text() if item is not None else ""

    def rows(self, bindings: Mapping[str, Binding]) -> list[Variable]:
        """The variables the rows describe, each with its binding from ``bindings``."""
        out = []
        for row in range(self.rowCount()):
            name = self._cell_text(row, NAME)
            combo = self.cellWidget(row, TYPE)
            type_ = combo.currentText() if isinstance(combo, QComboBox) else "string"
            check = self.item(row, REQUIRED)
            required = check is None or check.checkState() == Qt.CheckState.Checked
            default_text = self._cell_text(row, DEFAULT)
            level = self.cellWidget(row, SENSITIVITY)
            sensitivity = level.currentText() if isinstance(level, QComboBox) else "public"
            out.append(
                Variable(
                    name=name,
                    type=type_,
                    required=required,
                    default=default_text if default_text != "" else None,
                    description=self._cell_text(row, DESCRIPTION),
                    sensitivity=sensitivity,
                    binding=bindings.get(name),
                )
            )
        return out

    def follow(self, used: set[str]) -> None:
        """Rows follow the templates: new names appear; a stale row (no template uses
        it, nothing typed in it) disappears. The rows stay sorted by name."""
        rows = {v.name: (i, v) for i, v in enumerate(self.rows({}))}
        stale = [i for i, v in rows.values() if is_stale(v, used)]
        for row in sorted(stale, reverse=True):
            self.removeRow(row)
        for name in sorted(used - set(rows)):
            self.add_row(Variable(name=name))
        self.sortItems(NAME)


def variables_tab(table: VariablesTable) -> QWidget:
    """The tab: a hint on what the table is, and ``table``."""
    w = QWidget()
    layout = QVBoxLayout(w)
    layout.setContentsMargins(0, 4, 0, 0)
    hint = QLabel("Found in the templates. Type, default and description are yours to set.")
    hint.setObjectName("dimLabel")
    hint.setWordWrap(True)
    layout.addWidget(hint)
    layout.addWidget(table)
    return w
