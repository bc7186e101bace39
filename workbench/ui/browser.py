"""The vault browser: folders from '/' in names, full-text search, filters, badges.

The tree is a ``QStandardItemModel`` (folders are items whose children are prompts);
a prompt item keeps its full name under ``NAME_ROLE``. Column 1 holds a per-prompt
badge: "edited" for unsaved drafts now, and the sync state once sync fills it in
through :meth:`PromptTreeModel.set_sync_badge`.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.ui.empty_state import EmptyState
from workbench.ui.errors import ErrorReporter
from workbench.vault import Vault

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
SNIPPET_ROLE = Qt.ItemDataRole.UserRole + 2
LISTING_LIMIT = 100_000


class PromptTreeModel(QStandardItemModel):
    def __init__(self) -> None:
        super().__init__(0, 2)
        self.setHorizontalHeaderLabels(["Prompt", ""])
        self._items: dict[str, QStandardItem] = {}
        self._drafts: set[str] = set()
        self._sync: dict[str, str] = {}

    def populate(self, names: Iterable[str], snippets: dict[str, str] | None = None,
                 flat: bool = False) -> None:  # fmt: skip
        self.beginResetModel()
        self.blockSignals(True)
        try:
            self.removeRows(0, self.rowCount())
            self._items = {}
            folders: dict[str, QStandardItem] = {}
            root = self.invisibleRootItem()
            for name in names:
                parent = root
                folder, _, leaf = name.rpartition("/")
                if folder and not flat:
                    path = ""
                    for part in folder.split("/"):
                        path = f"{path}/{part}" if path else part
                        item = folders.get(path)
                        if item is None:
                            item = QStandardItem(part)
                            item.setEditable(False)
                            item.setData(None, NAME_ROLE)
                            badge = QStandardItem()
                            badge.setEditable(False)
                            parent.appendRow([item, badge])
                            folders[path] = item
                        parent = item
                item = QStandardItem(name if flat else leaf)
                item.setEditable(False)
                item.setData(name, NAME_ROLE)
                item.setToolTip(name)  # the whole name, when a narrow sidebar elides it
                if snippets and name in snippets:
                    item.setToolTip(f"{name}\n{snippets[name]}")
                    item.setData(snippets[name], SNIPPET_ROLE)
                badge = QStandardItem(self._badge_text(name))
                badge.setEditable(False)
                parent.appendRow([item, badge])
                self._items[name] = item
        finally:
            self.blockSignals(False)
            self.endResetModel()

    def _badge_text(self, name: str) -> str:
        parts = []
        if name in self._drafts:
            parts.append("edited")
        if name in self._sync:
            parts.append(self._sync[name])
        return " · ".join(parts)

    def _update_badge(self, name: str) -> None:
        item = self._items.get(name)
        if item is None:
            return
        parent = item.parent() or self.invisibleRootItem()
        badge = parent.child(item.row(), 1)
        if badge is not None:
            badge.setText(self._badge_text(name))

    def set_drafts(self, names: set[str]) -> None:
        changed = self._drafts ^ names
        self._drafts = set(names)
        for name in changed:
            self._update_badge(name)

    def set_draft(self, name: str, has_draft: bool) -> None:
        (self._drafts.add if has_draft else self._drafts.discard)(name)
        self._update_badge(name)

    def set_sync_badge(self, name: str, text: str | None) -> None:
        """For the sync feature: e.g. "synced", "2 to push", "conflict"."""
        if text:
            self._sync[name] = text
        else:
            self._sync.pop(name, None)
        self._update_badge(name)

    def index_of(self, name: str) -> QModelIndex:
        item = self._items.get(name)
        return item.index() if item is not None else QModelIndex()

    def names(self) -> list[str]:
        return list(self._items)


class VaultBrowser(QWidget):
    """Search box, filters and the tree. ``prompt_selected`` carries a prompt name.

    An empty vault shows first steps instead of a blank tree; a search that finds
    nothing says so. Escape in the search box clears it; Tab goes on to the results."""

    prompt_selected = Signal(str)
    vault_empty = Signal(bool)
    """After each reload: whether the vault has no prompts at all (no search or filter)."""
    first_step = Signal(str)
    """An empty-state button: "samples", "new" or "provider"."""
    new_requested = Signal()
    export_requested = Signal(str)
    """The tree's context menu: export this prompt (its name) as a bundle."""

    MIN_WIDTH = 200

    def __init__(self, vault: Vault, reporter: ErrorReporter) -> None:
        super().__init__()
        self.vault = vault
        self.reporter = reporter
        self.context_menu: QMenu | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts (Ctrl+F)")
        self.search.setToolTip("Search names, templates and commit messages (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search prompts")
        clear = QAction("Clear search", self.search)
        clear.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        clear.triggered.connect(self.search.clear)
        self.search.addAction(clear)
        layout.addWidget(self.search)
        filters = QHBoxLayout()
        filters.setSpacing(6)
        self.tag_filter = QLineEdit()
        self.tag_filter.setPlaceholderText("tag")
        self.tag_filter.setToolTip("Only prompts with this tag")
        self.tag_filter.setAccessibleName("Tag filter")
        self.label_filter = QLineEdit()
        self.label_filter.setPlaceholderText("label")
        self.label_filter.setToolTip("Only prompts with this label (e.g. production)")
        self.label_filter.setAccessibleName("Label filter")
        self.drafts_filter = QCheckBox("unpushed")
        self.drafts_filter.setToolTip("Only prompts with versions not yet pushed to the registry")
        filters.addWidget(self.tag_filter, 1)
        filters.addWidget(self.label_filter, 1)
        filters.addWidget(self.drafts_filter)
        layout.addLayout(filters)
        self.model = PromptTreeModel()
        self.tree = QTreeView()
        self.tree.setObjectName("vaultTree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setHeaderHidden(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setIndentation(14)
        self.tree.setAccessibleName("Prompts")
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.empty_state = EmptyState(
            "No prompts yet", "Start from the samples or a new prompt.", ("samples", "new")
        )
        self.empty_state.requested.connect(self.first_step)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty_state)
        layout.addWidget(self.stack, 1)
        self.setMinimumWidth(self.MIN_WIDTH)
        # Search, then the results, then the filters: one Tab from the box to the list.
        self.setTabOrder(self.search, self.tree)
        self.setTabOrder(self.tree, self.tag_filter)
        self.setTabOrder(self.tag_filter, self.label_filter)
        self.setTabOrder(self.label_filter, self.drafts_filter)
        self.count_label = QLabel()
        self.count_label.setObjectName("dimLabel")
        layout.addWidget(self.count_label)
        self.tree.selectionModel().currentChanged.connect(self._on_current)
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.reload)
        for edit in (self.search, self.tag_filter, self.label_filter):
            edit.textChanged.connect(self._debounce.start)
        self.drafts_filter.toggled.connect(self._debounce.start)

    def reload(self) -> None:
        """Fill the tree from the vault with the current search and filters."""
        current = self.current_prompt()
        query = self.search.text().strip()
        tag = self.tag_filter.text().strip() or None
        label = self.label_filter.text().strip() or None
        unpushed = self.drafts_filter.isChecked() or None
        try:
            snippets: dict[str, str] = {}
            if tag or label or unpushed:
                names = [
                    s.name
                    for s in self.vault.list_prompts(
                        tag=tag, label=label, has_drafts=unpushed, limit=LISTING_LIMIT
                    )
                ]
            else:
                names = self.vault.prompt_names(include_archived=False) if not query else []
            if query:
                hits = self.vault.search(query, limit=200)
                allowed = set(names) if (tag or label or unpushed) else None
                names = [h.prompt for h in hits if allowed is None or h.prompt in allowed]
                snippets = {h.prompt: h.snippet for h in hits}
        except WorkbenchError as exc:
            self.reporter.report(exc, "search the vault")
            return
        self.model.populate(names, snippets, flat=bool(query))
        if query or len(names) < 300:
            self.tree.expandAll()
        total = len(names)
        filtered = bool(query or tag or label or unpushed)
        self._show_empty(total == 0 and not filtered)
        self.vault_empty.emit(total == 0 and not filtered)
        noun = (
            ("match" if total == 1 else "matches")
            if query
            else ("prompt" if total == 1 else "prompts")
        )
        self.count_label.setText(f"{total:,} {noun}")
        if current:
            self.select(current, emit=False)

    def _show_empty(self, empty: bool) -> None:
        had_focus = self.tree.hasFocus()
        self.stack.setCurrentWidget(self.empty_state if empty else self.tree)
        if had_focus and not empty:
            self.tree.setFocus()

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        name = index.siblingAtColumn(0).data(NAME_ROLE) if index.isValid() else None
        menu = QMenu(self.tree)
        menu.addAction("New prompt…", self.new_requested.emit)
        if isinstance(name, str):
            prompt = name
            menu.addAction("Export…", lambda: self.export_requested.emit(prompt))
            menu.addAction("Copy name", lambda: self.copy_name(prompt))
        self.context_menu = menu  # kept for tests and so it is not collected while shown
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def copy_name(self, name: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(name)

    def current_prompt(self) -> str | None:
        index = self.tree.currentIndex()
        if not index.isValid():
            return None
        name = index.siblingAtColumn(0).data(NAME_ROLE)
        return name if isinstance(name, str) else None

    def select(self, name: str, emit: bool = True) -> None:
        index = self.model.index_of(name)
        if not index.isValid():
            return
        self.tree.blockSignals(not emit)
        self.tree.selectionModel().blockSignals(not emit)
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        self.tree.selectionModel().blockSignals(False)
        self.tree.blockSignals(False)

    @Slot(QModelIndex, QModelIndex)
    def _on_current(self, current: QModelIndex | QPersistentModelIndex, _prev: object) -> None:
        name = current.sibling(current.row(), 0).data(NAME_ROLE) if current.isValid() else None
        if isinstance(name, str):
            self.prompt_selected.emit(name)
