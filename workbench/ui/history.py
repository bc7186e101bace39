"""History: the version list of a prompt and a side-by-side diff of any two versions."""

from __future__ import annotations

import html
import uuid
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.diff import Span, diff_contents
from workbench.core.diff_views import SideBySideRow, side_by_side_rows
from workbench.core.models import Label, PromptContent, PromptVersion
from workbench.core.models import heads as find_heads
from workbench.ui.table_model import RowsTableModel, setup_row_table
from workbench.ui.theme import Theme, current_theme
from workbench.vault import Vault

VERSION_ROLE = Qt.ItemDataRole.UserRole + 1


class HistoryModel(RowsTableModel[PromptVersion]):
    """Versions newest first: number or draft, author, date, message, labels."""

    HEADERS = ("Version", "Author", "Date", "Message", "Labels")

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[uuid.UUID, list[str]] = {}
        self.heads: set[uuid.UUID] = set()

    @property
    def versions(self) -> list[PromptVersion]:
        """The shown versions, newest first."""
        return self.rows

    def set_history(self, versions: list[PromptVersion], labels: list[Label]) -> None:
        by_version: dict[uuid.UUID, list[str]] = {}
        for lab in labels:
            by_version.setdefault(lab.version_id, []).append(lab.name)
        self.labels = by_version
        self.heads = {v.id for v in find_heads(versions)}
        self.set_rows(reversed(versions))

    def cell_data(self, row: PromptVersion, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                fork = " ⑂" if len(self.heads) > 1 and row.id in self.heads else ""
                return row.display_number + fork
            if column == 1:
                return row.author
            if column == 2:
                return f"{row.created_at.astimezone():%Y-%m-%d %H:%M}"
            if column == 3:
                return row.message
            if column == 4:
                return ", ".join(self.labels.get(row.id, []))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.display_number}  id {row.id}\n{row.message}"
        if role == VERSION_ROLE:
            return row
        return None

    def version_at(self, row: int) -> PromptVersion:
        return self.rows[row]


def _mark(text: str, spans: tuple[Span, ...], color: str) -> str:
    """HTML for ``text`` with ``spans`` highlighted."""
    out, pos = [], 0
    for start, end in spans:
        out.append(html.escape(text[pos:start]))
        out.append(f"<span style='background:{color}'>{html.escape(text[start:end])}</span>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("  ", "&nbsp;&nbsp;") or "&nbsp;"


def diff_html(
    rows: list[SideBySideRow], left_title: str, right_title: str, theme: Theme | None = None
) -> str:
    """A two-column table: line numbers, removed text red, added green, changed
    characters stronger, section headers across; every colour from ``theme``
    (default: the applied one), text colour included, so it reads on either scheme."""
    t = theme or current_theme()
    parts = [
        "<table width='100%' cellspacing='0' cellpadding='3' "
        f"style='font-family:\"DejaVu Sans Mono\",monospace; color:{t.diff_text}'>",
        f"<tr><th width='4%'></th><th align='left' width='46%'>{html.escape(left_title)}</th>"
        f"<th width='4%'></th><th align='left' width='46%'>{html.escape(right_title)}</th></tr>",
    ]
    if not rows:
        parts.append("<tr><td colspan='4'>The two versions have the same content.</td></tr>")
    for row in rows:
        if row.kind == "header":
            parts.append(
                f"<tr style='background:{t.diff_head_bg}'><td></td>"
                f"<td><b>{html.escape(row.left or '')}</b></td>"
                f"<td></td><td><b>{html.escape(row.right or '')}</b></td></tr>"
            )
            continue
        lbg = t.diff_del_bg if row.kind in ("delete", "replace") else ""
        rbg = t.diff_ins_bg if row.kind in ("insert", "replace") else ""
        left = "" if row.left is None else _mark(row.left, row.left_spans, t.diff_del_mark)
        right = "" if row.right is None else _mark(row.right, row.right_spans, t.diff_ins_mark)
        ln = "" if row.left_lineno is None else str(row.left_lineno)
        rn = "" if row.right_lineno is None else str(row.right_lineno)
        lstyle = f" style='background:{lbg}'" if lbg else ""
        rstyle = f" style='background:{rbg}'" if rbg else ""
        num = t.diff_lineno
        parts.append(
            f"<tr><td align='right' style='color:{num}'>{ln}</td><td{lstyle}>{left}</td>"
            f"<td align='right' style='color:{num}'>{rn}</td><td{rstyle}>{right}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


class DiffView(QTextBrowser):
    """Side-by-side diff of two contents (messages, parameters, variables, tags).

    Its colours come from the applied theme; switching theme re-renders the shown diff."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("diffView")
        self.setOpenLinks(False)
        self.rows: list[SideBySideRow] = []
        self._titles: tuple[str, str] | None = None

    def show_diff(self, old: PromptContent, new: PromptContent, left: str, right: str) -> None:
        diff = diff_contents(old, new)
        self.rows = [] if diff.is_empty else side_by_side_rows(diff)
        self._titles = (left, right)
        self._render()

    def _render(self) -> None:
        if self._titles is not None:
            super().setHtml(diff_html(self.rows, *self._titles))

    def setHtml(self, text: str) -> None:
        """Show a note instead of a diff (it is not re-rendered on a theme change)."""
        self._titles = None
        super().setHtml(text)

    def clear(self) -> None:
        self._titles = None
        super().clear()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._render()


class HistoryPanel(QWidget):
    """Select one version to diff it against its parent, or two to diff them."""

    restore_requested = Signal(object)  # PromptVersion

    def __init__(self, vault: Vault) -> None:
        super().__init__()
        self.vault = vault
        self.prompt: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.model = HistoryModel()
        self.table = QTableView()
        self.table.setObjectName("historyTable")
        self.table.setModel(self.model)
        setup_row_table(
            self.table,
            stretch_column=3,
            selection=QAbstractItemView.SelectionMode.ExtendedSelection,
        )
        self.table.setWordWrap(False)
        top_layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        self.hint = QLabel(
            "Select one version to compare it with its parent, or two to compare them."
        )
        self.hint.setObjectName("dimLabel")
        self.restore_button = QPushButton("Restore as draft")
        self.restore_button.setToolTip("Open the selected version in the editor as unsaved edits")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self._restore)
        bar.addWidget(self.hint, 1)
        bar.addWidget(self.restore_button)
        top_layout.addLayout(bar)
        split.addWidget(top)
        self.diff = DiffView()
        split.addWidget(self.diff)
        split.setSizes([220, 480])
        layout.addWidget(split)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

    def set_prompt(self, name: str | None) -> None:
        self.prompt = name
        self.reload()

    def reload(self) -> None:
        if self.prompt is None:
            self.model.set_history([], [])
        else:
            self.model.set_history(self.vault.history(self.prompt), self.vault.labels(self.prompt))
        self.diff.clear()
        if self.model.rowCount():
            self.table.selectRow(0)

    def selected_versions(self) -> list[PromptVersion]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.version_at(r) for r in rows]

    def select_versions(self, rows: list[int]) -> None:
        sel = QItemSelection()
        for r in rows:
            sel.select(self.model.index(r, 0), self.model.index(r, self.model.columnCount() - 1))
        self.table.selectionModel().select(
            sel, self.table.selectionModel().SelectionFlag.ClearAndSelect
        )

    @Slot()
    def _on_selection(self, *_args: object) -> None:
        chosen = self.selected_versions()
        self.restore_button.setEnabled(len(chosen) == 1)
        if len(chosen) == 1:
            new = chosen[0]
            parent = next(
                (v for v in self.model.versions if new.parent_ids and v.id == new.parent_ids[0]),
                None,
            )
            if parent is None:
                self.diff.setHtml(
                    f"<p><b>{html.escape(new.display_number)}</b> is the first version.</p>"
                )
                self.diff.rows = []
                return
            self.diff.show_diff(
                parent.content, new.content, parent.display_number, new.display_number
            )
        elif len(chosen) == 2:
            new, old = chosen[0], chosen[1]  # rows are newest first
            self.diff.show_diff(old.content, new.content, old.display_number, new.display_number)

    @Slot()
    def _restore(self) -> None:
        chosen = self.selected_versions()
        if len(chosen) == 1:
            self.restore_requested.emit(chosen[0])


__all__ = ["DiffView", "HistoryModel", "HistoryPanel"]
