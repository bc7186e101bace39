"""The Data sources window (File → Data sources…): the vault's named data sources, a
form to add or change one (each save of a change is a new version), and a test that
reads it once and shows the row count, the columns and the first rows with sensitive
fields masked.

A thin shell over ``workbench.app.sources`` and ``workbench.vault.sources``, as
``workbench source ...`` is: the same definitions, checks and audit. Saves go through
the window's one vault writer; a test (a file, a database or a server: it may take a
while) runs on the writer's thread, since it records its read in the audit log.
Expected failures are said in the window's status line, with what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.app.sources import TestReport, make_access, make_definition, try_source
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.sources import ACCESS_ROLES, SOURCE_KINDS, SourceVersion
from workbench.secrets.store import SecretStore
from workbench.ui.column_fit import ColumnFitter
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import VaultWriter
from workbench.vault import Vault
from workbench.vault.sources import SourceStore

COLUMNS = ("Source", "Version", "Kind", "Prompts allowed", "Reads")
FIELDS_BY_KIND = {
    "csv": {"path"},
    "json": {"path", "record_path"},
    "sql": {"url", "query", "credential"},
    "http": {"url", "record_path", "credential"},
}


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]


def _variables(text: str) -> dict[str, str]:
    out = {}
    for part in _words(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{part!r}: write NAME=VALUE", hint="e.g. customer_id=42, region=eu")
        out[name.strip()] = value.strip()
    return out


class SourcesDialog(QDialog):
    """``changed`` after a save or a removal (the sources' names, for others to reload)."""

    changed = Signal()

    def __init__(
        self,
        vault: Vault,
        writer: VaultWriter,
        reporter: ErrorReporter,
        secrets: Callable[[], SecretStore] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Data sources")
        self.vault, self.writer, self.reporter, self.secrets = vault, writer, reporter, secrets
        self.store = SourceStore(vault)
        self.sources: list[SourceVersion] = []
        self.editing: SourceVersion | None = None
        em = self.fontMetrics().horizontalAdvance("M")
        self.resize(90 * em, 44 * em)

        layout = QVBoxLayout(self)
        intro = QLabel(
            "A variable bound to a data source takes its value from it when a run starts "
            "(write 'source: NAME' and 'field: COLUMN' under the variable in the prompt "
            "file). Each source allows some prompts (a name, or a folder ending in /) and "
            "roles. Every change is a new version; every read is in the audit log."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        split = QSplitter(Qt.Orientation.Horizontal)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Data sources")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        # Columns fitted to the list's width, as the Log's are: what it reads from and
        # which prompts it allows give way first (elided in the middle, whole in the
        # tooltip); the list never scrolls sideways.
        self.column_fitter = ColumnFitter(self.table, shrinkable=(4, 3), spare=4)
        header = self.table.horizontalHeader()
        least = sum(header.sectionSizeHint(c) for c in range(len(COLUMNS)))
        least += self.table.fontMetrics().horizontalAdvance("x" * 12)  # a path's ends
        scroll = self.table.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.table.setMinimumWidth(least + scroll + 2 * self.table.frameWidth())
        self.table.itemSelectionChanged.connect(self._on_selection)
        split.addWidget(self.table)

        right = QWidget()
        rl = QVBoxLayout(right)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("customers")
        self.kind = QComboBox()
        self.kind.addItems(SOURCE_KINDS)
        self.kind.currentTextChanged.connect(self._kind_changed)
        self.path = QLineEdit()
        self.path.setPlaceholderText("/data/customers.csv")
        self.record_path = QLineEdit()
        self.record_path.setPlaceholderText("data.items")
        self.url = QLineEdit()
        self.url.setPlaceholderText("sqlite:////data/crm.db  or  https://api/x/{customer_id}")
        self.query = QPlainTextEdit()
        self.query.setPlaceholderText("SELECT email FROM customers WHERE id = :customer_id")
        self.query.setFixedHeight(5 * self.fontMetrics().lineSpacing())
        self.credential = QLineEdit()
        self.credential.setPlaceholderText("keychain entry name (never the secret)")
        self.prompts = QLineEdit()
        self.prompts.setPlaceholderText("support/, sales/pitch")
        self.role = QComboBox()
        self.role.addItems(ACCESS_ROLES)
        self.sensitive = QLineEdit()
        self.sensitive.setPlaceholderText("email, phone")
        self.note = QLineEdit()
        for label, widget in (
            ("Name", self.name), ("Kind", self.kind), ("Path", self.path),
            ("Record path", self.record_path), ("URL", self.url), ("Query", self.query),
            ("Credential", self.credential), ("Allowed prompts", self.prompts),
            ("Lowest role", self.role), ("Sensitive fields", self.sensitive),
            ("Note", self.note),
        ):  # fmt: skip
            form.addRow(label, widget)
        rl.addLayout(form)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New source")
        self.new_button.clicked.connect(self.new_source)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primaryButton")
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        for b in (self.new_button, self.remove_button, self.save_button):
            buttons.addWidget(b)
        rl.addLayout(buttons)

        test_form = QFormLayout()
        self.test_vars = QLineEdit()
        self.test_vars.setPlaceholderText("customer_id=42, region=eu")
        test_form.addRow("Test with", self.test_vars)
        rl.addLayout(test_form)
        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(self.test)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName("Test result")
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        rl.addLayout(test_row)
        self.sample = QTableWidget(0, 0)
        self.sample.setAccessibleName("Rows read")
        self.sample.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        rl.addWidget(self.sample, 1)
        split.addWidget(right)
        # The list gets room for its columns (a long path is elided in the middle, whole
        # in its tooltip); the form takes the rest.
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([2 * self.fontMetrics().averageCharWidth() * 40, 3 * 300])
        layout.addWidget(split, 1)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Status")
        layout.addWidget(self.status)
        # Every change is saved as it is made (Save, Remove): Close only leaves.
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.reload()
        self.new_source()

    # ---- data ------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        self.sources = self.store.list_sources()
        self.table.setRowCount(len(self.sources))
        for row, s in enumerate(self.sources):
            cells = (s.name, f"v{s.number}", s.definition.kind,
                     ", ".join(s.access.prompts) or "none yet", s.definition.where())  # fmt: skip
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
            if s.name == select:
                self.table.selectRow(row)

    @Slot()
    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self._load(self.sources[rows[0].row()])

    def _load(self, s: SourceVersion) -> None:
        self.editing = s
        d, a = s.definition, s.access
        self.name.setText(s.name)
        self.name.setReadOnly(True)
        self.kind.setCurrentText(d.kind)
        self.kind.setEnabled(False)  # another kind is another source
        self.path.setText(d.path or "")
        self.record_path.setText(d.record_path or "")
        self.url.setText(d.url or "")
        self.query.setPlainText(d.query or "")
        self.credential.setText(d.credential or "")
        self.prompts.setText(", ".join(a.prompts))
        self.role.setCurrentText(a.roles[0])
        self.sensitive.setText(", ".join(a.sensitive_fields))
        self.note.clear()
        self._kind_changed(d.kind)
        self.remove_button.setEnabled(True)
        self.test_button.setEnabled(True)
        self.status.setText(f"{s.label}: saving a change makes v{s.number + 1}.")

    @Slot()
    def new_source(self) -> None:
        self.editing = None
        self.table.clearSelection()
        for edit in (self.name, self.path, self.record_path, self.url, self.credential,
                     self.prompts, self.sensitive, self.note):  # fmt: skip
            edit.clear()
        self.query.clear()
        self.name.setReadOnly(False)
        self.kind.setEnabled(True)
        self.role.setCurrentText("author")
        self._kind_changed(self.kind.currentText())
        self.remove_button.setEnabled(False)
        self.test_button.setEnabled(False)
        self.status.setText("A new source: fill in its name, where it reads and who may use it.")

    @Slot(str)
    def _kind_changed(self, kind: str) -> None:
        wanted = FIELDS_BY_KIND.get(kind, set())
        for name in ("path", "record_path", "url", "query", "credential"):
            widget: QWidget = getattr(self, name)
            widget.setEnabled(name in wanted)

    def _definition_fields(self) -> dict[str, Any]:
        kind = self.kind.currentText()
        given = {
            "path": self.path.text().strip(),
            "record_path": self.record_path.text().strip(),
            "url": self.url.text().strip(),
            "query": self.query.toPlainText().strip(),
            "credential": self.credential.text().strip(),
        }
        fields: dict[str, Any] = {k: v for k, v in given.items() if v and k in FIELDS_BY_KIND[kind]}
        if self.editing is not None:
            fields["header"] = self.editing.definition.header
        return {"kind": kind, **fields}

    # ---- actions ---------------------------------------------------------------------

    @Slot()
    def save(self) -> None:
        try:
            definition = make_definition(self._definition_fields())
            access = make_access(
                _words(self.prompts.text()),
                [self.role.currentText()],
                _words(self.sensitive.text()),
            )
        except WorkbenchError as exc:
            self._say(f"Not saved: {exc.describe()}")
            return
        name, note, editing = self.name.text().strip(), self.note.text(), self.editing
        store = self.store

        def write() -> SourceVersion:
            if editing is None:
                return store.add(name, definition, access, note=note)
            return store.edit(
                editing.name,
                None if definition == editing.definition else definition,
                None if access == editing.access else access,
                note=note,
            )

        def done(saved: SourceVersion) -> None:
            self.reload(select=saved.name)
            self._load(saved)
            self._say(f"Saved {saved.label}.")
            self.changed.emit()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self._say(f"Not saved: {exc.describe()}")

        self.writer.write(f"saving data source {name}", write, done, failed)

    @Slot()
    def remove(self) -> None:
        editing = self.editing
        if editing is None:
            return
        store = self.store

        def done(_result: object) -> None:
            self.reload()
            self.new_source()
            self._say(
                f"Removed {editing.name}: prompts bound to it are refused from now on "
                "(its versions are kept; add it again to bring it back)."
            )
            self.changed.emit()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self._say(f"Not removed: {exc.describe()}")

        self.writer.write(
            f"removing data source {editing.name}", lambda: store.remove(editing.name), done, failed
        )

    @Slot()
    def test(self) -> None:
        editing = self.editing
        if editing is None:
            return
        try:
            params = _variables(self.test_vars.text())
        except WorkbenchError as exc:
            self._say(f"Not tested: {exc.describe()}")
            return
        vault, secrets = self.vault, self.secrets
        self.test_button.setEnabled(False)
        self.test_result.setText(f"Reading {editing.name}…")

        def done(report: TestReport) -> None:
            self.test_button.setEnabled(True)
            rows = f"{report.rows} row{'s' if report.rows != 1 else ''}"
            self.test_result.setText(
                f"{report.source} v{report.version}: {rows} · columns: "
                f"{', '.join(report.columns) or 'none'}"
            )
            self.sample.setColumnCount(len(report.columns))
            self.sample.setHorizontalHeaderLabels(report.columns)
            self.sample.setRowCount(len(report.sample))
            for r, record in enumerate(report.sample):
                for c, column in enumerate(report.columns):
                    self.sample.setItem(r, c, QTableWidgetItem(record[column]))

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.test_result.setText(f"Test failed: {exc.describe()}")
            self.sample.setRowCount(0)

        self.writer.submit(
            f"testing data source {editing.name}",
            lambda: try_source(vault, editing.name, params, secrets() if secrets else None),
            done,
            failed,
        )

    def _say(self, text: str) -> None:
        self.status.setText(text)
