"""How a compare cell looks: its lines of readouts and output, drawn by one delegate
that the grid and its row heights agree on, and a table whose key columns stay put."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from workbench.core.runs import CellResult
from workbench.ui.grid import CELL_ROLE, KIND_ROLE, STREAM_ROLE
from workbench.ui.highlight import monospace_font
from workbench.ui.readouts import readout_lines
from workbench.ui.theme import legible_on

_Index = QModelIndex | QPersistentModelIndex
PAD_X, PAD_Y = 8, 6
"""Space between a cell's edge and its text."""
OUTPUT_LINES = 3
"""Lines of output text a cell shows under its numbers (the Cell tab shows it all)."""
READOUT_LINES = 3
"""A finished cell's readout lines: checks, times, tokens and cost."""
TOTAL_LINES = 4
SAMPLE_READOUTS = ("TTFT 999 ms · total 9.99 s",)
"""A typical readout: the narrowest a cell column starts at, so columns barely move
as numbers arrive."""
Line = tuple[str, QFont, QColor]


def cell_lines(cell: CellResult) -> list[tuple[str, str, str]]:
    """A finished cell's readout lines, with font and colour names (see
    :meth:`CellDelegate.lines`)."""
    if not cell.ok:
        return [(f"error: {cell.error_kind or 'failed'}", "mono", "red")]
    lines = readout_lines(cell)
    out = []
    for i, line in enumerate(lines):
        color = "text"
        if line.startswith("✘"):
            color = "red"
        elif line.startswith("✔"):
            color = "green"
        elif i == len(lines) - 1:
            color = "green" if cell.cached else "dim"
        out.append((line, "bold" if line.startswith(("✘", "✔")) else "mono", color))
    return out


def status_colors(palette: QPalette) -> tuple[str, str, str]:
    """(failed, passed, streaming) colours that read on the palette's background."""
    if palette.color(QPalette.ColorRole.Base).lightness() < 128:
        return "#ef5350", "#66bb6a", "#42a5f5"
    return "#d32f2f", "#2e7d32", "#1e88e5"


class CellDelegate(QStyledItemDelegate):
    """Numbers first (monospace, never cut: the columns are made wide enough for
    them), then the output, wrapped and elided to the cell (the Cell tab and the
    tooltip show it whole)."""

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self.view = view
        self._fonts: tuple[str, tuple[QFont, QFont, QFont]] | None = None
        self._fm: tuple[str, dict[str, QFontMetrics]] | None = None

    # ---- what a cell says ------------------------------------------------------------

    def fonts(self) -> tuple[QFont, QFont, QFont]:
        """(body, monospace, bold monospace), from the view's font (made once per font:
        sizing a big grid asks for them for every cell)."""
        key = self.view.font().key()
        if self._fonts is None or self._fonts[0] != key:
            base = QFont(self.view.font())
            mono = monospace_font(-1)
            bold = QFont(mono)
            bold.setBold(True)
            self._fonts = (key, (base, mono, bold))
        return self._fonts[1]

    def lines(self, index: _Index) -> list[tuple[str, str, str]]:
        """The lines of a cell that must be shown whole: (text, font, colour), font one
        of "base", "mono", "bold" and colour one of "text", "dim", "red", "green",
        "blue"."""
        kind = index.data(KIND_ROLE)
        if kind != "cell":
            text = index.data() or ""
            return [(line, "bold" if i == 2 else "mono", "text")
                    for i, line in enumerate(text.splitlines())]  # fmt: skip
        cell: CellResult | None = index.data(CELL_ROLE)
        if cell is None:
            text = (index.data() or "").split("\n", 1)[0]
            return [
                (text, "mono", "blue") if text.startswith("streaming") else (text, "base", "dim")
            ]
        return cell_lines(cell)

    def readout(self, index: _Index, palette: QPalette | None = None) -> list[Line]:
        """:meth:`lines` with real fonts and colours."""
        pal = palette or self.view.palette()
        text_color = pal.color(QPalette.ColorRole.Text)
        dim = QColor(text_color)
        dim.setAlpha(150)
        red, green, blue = (QColor(c) for c in status_colors(pal))
        colors = {"text": text_color, "dim": dim, "red": red, "green": green, "blue": blue}
        base, mono, bold = self.fonts()
        fonts = {"base": base, "mono": mono, "bold": bold}
        return [(t, fonts[f], colors[c]) for t, f, c in self.lines(index)]

    def body(self, index: _Index) -> str:
        """The elidable text under the numbers: output, streamed text or error."""
        if index.data(KIND_ROLE) != "cell":
            return ""
        cell: CellResult | None = index.data(CELL_ROLE)
        if cell is None:
            return index.data(STREAM_ROLE) or ""
        return cell.output if cell.ok else (cell.error or "")

    # ---- sizes -----------------------------------------------------------------------

    def _metrics(self) -> dict[str, QFontMetrics]:
        base, mono, bold = self.fonts()
        key = self.view.font().key()
        if self._fm is None or self._fm[0] != key:
            self._fm = (key, {"base": QFontMetrics(base), "mono": QFontMetrics(mono),
                              "bold": QFontMetrics(bold)})  # fmt: skip
        return self._fm[1]

    def lines_width(self, lines: Sequence[tuple[str, str, str]]) -> int:
        fm = self._metrics()
        widths = [fm[f].horizontalAdvance(t) for t, f, _c in lines]
        return max(widths, default=0) + 2 * PAD_X + 2

    def readout_width(self, index: _Index) -> int:
        """Width the cell needs so that no number is cut."""
        return self.lines_width(self.lines(index))

    def min_cell_width(self) -> int:
        _base, mono, _bold = self.fonts()
        fm = QFontMetrics(mono)
        return max(fm.horizontalAdvance(t) for t in SAMPLE_READOUTS) + 2 * PAD_X + 2

    def cell_height(self) -> int:
        base, mono, _bold = self.fonts()
        mono_h, base_h = QFontMetrics(mono).height(), QFontMetrics(base).height()
        return 2 * PAD_Y + READOUT_LINES * (mono_h + 1) + 3 + OUTPUT_LINES * base_h

    def total_height(self) -> int:
        _base, _mono, bold = self.fonts()
        return 2 * PAD_Y + TOTAL_LINES * (QFontMetrics(bold).height() + 1)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        height = self.cell_height() if index.data(KIND_ROLE) == "cell" else self.total_height()
        return QSize(max(self.min_cell_width(), self.readout_width(index)), height)

    # ---- painting --------------------------------------------------------------------

    @staticmethod
    def selected_color(color: QColor, palette: QPalette) -> QColor:
        """A readout's colour on the selection: green stays green and red stays red
        (the pass/fail colour is what a person scans for), moved just far enough
        from the highlight to read; plain text takes the highlighted-text colour."""
        highlight = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
        text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
        if color in (palette.color(QPalette.ColorRole.Text), text):
            return text
        return legible_on(color, highlight)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        style = option.widget.style() if option.widget else None
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
        rect: QRect = option.rect.adjusted(PAD_X, PAD_Y, -PAD_X, -PAD_Y)
        palette: QPalette = QPalette(option.palette)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            palette.setColor(
                QPalette.ColorRole.Text, palette.color(QPalette.ColorRole.HighlightedText)
            )
        y = rect.top()
        for text, font, color in self.readout(index, palette):
            if selected:
                color = self.selected_color(color, palette)
            fm = QFontMetrics(font)
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(QRect(rect.left(), y, rect.width(), fm.height()),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             text)  # fmt: skip
            y += fm.height() + 1
        body = self.body(index)
        if body:
            base, _mono, _bold = self.fonts()
            y += 3
            painter.setFont(base)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            fm = QFontMetrics(base)
            room = max(1, (rect.bottom() - y) // fm.height())
            for chunk in _wrap(" ".join(body.split()), fm, rect.width(), room):
                painter.drawText(QRect(rect.left(), y, rect.width(), fm.height()),
                                 int(Qt.AlignmentFlag.AlignLeft), chunk)  # fmt: skip
                y += fm.height()
        painter.restore()


def _wrap(text: str, fm: QFontMetrics, width: int, lines: int) -> list[str]:
    out: list[str] = []
    words = text.split(" ")
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if fm.horizontalAdvance(trial) <= width or not current:
            current = trial
            continue
        out.append(current)
        current = word
        if len(out) == lines:
            break
    if len(out) < lines and current:
        out.append(current)
    if len(out) == lines and (len(" ".join(out)) < len(text)):
        out[-1] = fm.elidedText(out[-1] + " …", Qt.TextElideMode.ElideRight, width)
    return out[:lines]


class FrozenColumnsTable(QTableView):
    """A table whose first ``frozen`` columns stay in view while the others scroll
    sideways (Qt's "Frozen Column" example): a second view over the same model and
    selection laid over the left edge, kept in step with this one."""

    def __init__(self, frozen: int) -> None:
        super().__init__()
        self.frozen_count = frozen
        self.frozen = QTableView(self)
        self.frozen.setObjectName("frozenColumns")
        self.frozen.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.frozen.verticalHeader().hide()
        self.frozen.setFrameShape(QFrame.Shape.NoFrame)
        self.frozen.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.frozen.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.frozen.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.viewport().stackUnder(self.frozen)
        self.horizontalHeader().sectionResized.connect(self._section_resized)
        self.verticalHeader().sectionResized.connect(
            lambda i, _old, new: self.frozen.setRowHeight(i, new)
        )
        self.frozen.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        self.verticalScrollBar().valueChanged.connect(self.frozen.verticalScrollBar().setValue)
        self.frozen.horizontalHeader().sortIndicatorChanged.connect(self._frozen_sorted)
        self.horizontalHeader().sortIndicatorChanged.connect(self._main_sorted)

    def setSortingEnabled(self, enable: bool) -> None:
        super().setSortingEnabled(enable)
        self.frozen.setSortingEnabled(enable)

    def setAlternatingRowColors(self, enable: bool) -> None:
        super().setAlternatingRowColors(enable)
        self.frozen.setAlternatingRowColors(enable)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        self.frozen.setModel(model)
        self.frozen.setSelectionModel(self.selectionModel())
        if model is not None:
            model.modelReset.connect(self._sync_columns)
            model.layoutChanged.connect(self._sync_columns)
        self._sync_columns()

    def frozen_width(self) -> int:
        n = min(self.frozen_count, self.model().columnCount() if self.model() else 0)
        return sum(self.columnWidth(c) for c in range(n))

    @Slot()
    def _sync_columns(self) -> None:
        model = self.model()
        if model is None:
            return
        for c in range(model.columnCount()):
            self.frozen.setColumnHidden(c, c >= self.frozen_count)
            if c < self.frozen_count:
                self.frozen.setColumnWidth(c, self.columnWidth(c))
        for r in range(model.rowCount()):
            self.frozen.setRowHeight(r, self.rowHeight(r))
        self._place()

    def _section_resized(self, index: int, _old: int, new: int) -> None:
        if index < self.frozen_count:
            self.frozen.setColumnWidth(index, new)
            self._place()

    def _frozen_sorted(self, column: int, order: Qt.SortOrder) -> None:
        header = self.horizontalHeader()
        if (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (column, order):
            header.setSortIndicator(column, order)

    def _main_sorted(self, column: int, order: Qt.SortOrder) -> None:
        header = self.frozen.horizontalHeader()
        if (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (column, order):
            header.blockSignals(True)
            header.setSortIndicator(column, order)
            header.blockSignals(False)
            header.viewport().update()

    def _place(self) -> None:
        self.frozen.setGeometry(
            self.verticalHeader().width() + self.frameWidth(),
            self.frameWidth(),
            self.frozen_width(),
            self.viewport().height() + self.horizontalHeader().height(),
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()

    def updateGeometries(self) -> None:
        super().updateGeometries()
        if hasattr(self, "frozen"):
            self._place()

    def scrollTo(
        self,
        index: _Index,
        hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible,
    ) -> None:
        if index.column() >= self.frozen_count:  # frozen columns are always in view
            super().scrollTo(index, hint)
