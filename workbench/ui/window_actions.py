"""What the window does for the person: open, create and restore prompts, run and
compare, commit bookkeeping, settings and data sources, and the Edit and History
menus' actions."""

from __future__ import annotations

import uuid

from PySide6.QtCore import QPoint, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QInputDialog,
    QLabel,
    QMenu,
)

from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.models import heads as find_heads
from workbench.core.runs import Run
from workbench.ui.sources_view import SourcesDialog
from workbench.ui.stores import Draft
from workbench.ui.window_sync import WindowSync
from workbench.ui.window_transfer import WindowTransfer
from workbench.vault.runs import RunStore

_BREAKS = str.maketrans({"\u2029": "\n", "\u2028": "\n", "\ufdd0": "\n", "\ufdd1": "\n"})


def label_text(selected: str) -> str:
    """A label's selected rich text as plain text, as Qt's own copy gives it: paragraph,
    line and table-cell marks as line ends (no blank lines), without the zero-width
    spaces a label may hold to let a long id wrap (the review evidence's model ids)."""
    lines = selected.translate(_BREAKS).replace("\u200b", "").splitlines()
    return "\n".join(line for line in lines if line.strip())


class WindowActions(WindowSync, WindowTransfer):
    """The actions menus, buttons and panels ask the window for."""

    @Slot(bool, str)
    def _on_commit_state(self, enabled: bool, reason: str) -> None:
        # Kept enabled with a prompt open, so Ctrl+S says what is missing.
        self.commit_action.setEnabled(self.editor.prompt is not None)
        self.commit_action.setStatusTip(reason or "Commit a new version")

    @Slot(str)
    def _on_commit_refused(self, reason: str) -> None:
        self.statusBar().showMessage(f"Cannot commit yet: {reason}", 10_000)

    @Slot(str, bool)
    def _on_draft_state(self, name: str, has_draft: bool) -> None:
        if name == self.editor.prompt:
            self.setWindowModified(has_draft)

    def edit_focused(self, op: str) -> None:
        """Undo, Redo, Cut, Copy, Paste or Select all on the focused widget.

        Text fields handle these keys themselves; this reaches them from the menu, and
        copies the current cell of a list or table, or the text selected in a label
        (the window's Ctrl+C would otherwise take the key from it and copy nothing)."""
        widget = QApplication.focusWidget()
        if widget is None:
            return
        if isinstance(widget, QLabel) and op == "copy":
            clipboard = QApplication.clipboard()
            if widget.hasSelectedText() and clipboard is not None:
                clipboard.setText(label_text(widget.selectedText()))
            return
        if isinstance(widget, QAbstractItemView) and op == "copy":
            index = widget.currentIndex()
            text = index.data() if index.isValid() else None
            clipboard = QApplication.clipboard()
            if isinstance(text, str) and clipboard is not None:
                clipboard.setText(text)
            return
        method = getattr(widget, op, None)
        if callable(method):
            method()

    @Slot(str)
    def first_step(self, key: str) -> None:
        """An empty state's button: load the samples, a new prompt, or add a provider."""
        if key == "samples":
            self.load_samples()
        elif key == "new":
            self.new_prompt()
        elif key == "provider":
            self.open_settings()

    @Slot(QPoint)
    def _history_menu(self, pos: QPoint) -> None:
        table = self.history.table
        index = table.indexAt(pos)
        if index.isValid() and index.row() not in {
            i.row() for i in table.selectionModel().selectedRows()
        }:
            self.history.select_versions([index.row()])
        chosen = self.history.selected_versions()
        rows = sorted({i.row() for i in table.selectionModel().selectedRows()})
        menu = QMenu(table)
        if len(chosen) == 1:
            menu.addAction("Diff with its parent", lambda: self.show_history_diff(rows))
        if len(chosen) == 2:
            menu.addAction(
                f"Diff {chosen[1].display_number} → {chosen[0].display_number}",
                lambda: self.show_history_diff(rows),
            )
        if chosen:
            ids = [v.id for v in chosen]
            menu.addAction("Compare in the Compare tab", lambda: self.compare_versions(ids))
        if len(chosen) == 1:
            version = chosen[0]
            menu.addAction("Restore as draft", lambda: self._restore(version))
            menu.addAction("Continue from this version", lambda: self.continue_from(version))
        self.context_menu = menu
        menu.popup(table.viewport().mapToGlobal(pos))

    def show_history_diff(self, rows: list[int]) -> None:
        """History with these rows selected: one is diffed with its parent, two together."""
        self.tabs.setCurrentWidget(self.history)
        self.history.select_versions(rows)

    def compare_versions(self, ids: list[uuid.UUID]) -> None:
        """Tick exactly these versions in Compare and show it."""
        self.compare.check_only(versions=ids)
        self.tabs.setCurrentWidget(self.compare)

    def _show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)

    @Slot(str)
    def show_prompt(self, name: str) -> None:
        try:
            self.editor.set_prompt(name)
            versions = self.vault.history(name)
            self.history.set_prompt(name)
            declared = self.editor.content.variables if self.editor.content else ()
            self.testcases.set_prompt(
                name,
                [r.name for r in declared if r.binding is None],  # bound: from a source
                {r.name for r in declared if r.sensitivity == "sensitive"},
            )
            self.compare.set_prompt(name, versions, self.cases.load(name))
            self.runs.set_prompt(name)
            self._note_fork(name, versions)
        except WorkbenchError as exc:
            self.reporter.report(exc, f"open {name}")

    def _note_fork(self, name: str, versions: list[PromptVersion]) -> None:
        """Say so when two versions share a parent: nothing was merged, pick a head."""
        heads = find_heads(versions)
        if len(heads) > 1:
            shown = " and ".join(v.display_number for v in heads)
            self.statusBar().showMessage(
                f"⑂ {name} is forked: {shown} are both heads. Pick one in History, then "
                "Ctrl+Shift+B (Edit menu) to continue from it.",
                15000,
            )

    def new_prompt(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(
                self, "New prompt", "Name (folders with '/', e.g. support/reply):"
            )
            if not ok or not name.strip():
                return
        name = name.strip()
        try:
            self.vault.create_prompt(name)
        except WorkbenchError as exc:
            self.reporter.report(exc, "create the prompt")
            return
        self.browser.search.clear()
        self.browser.reload()
        self.browser.select(name)
        self.show_prompt(name)
        self.tabs.setCurrentWidget(self.editor)
        self.editor.save_draft()

    def _reload_log(self, only_shown: bool = False) -> None:
        """The Log tab's page reads the vault again (when shown, with ``only_shown``)."""
        if only_shown and self.tabs.currentWidget() is not self.log_tabs:
            return
        page = self.log_tabs.currentWidget()
        if page is self.log_panel:
            self.log_panel.reload()
        elif page is self.spending:
            self.spending.reload()
        elif page is self.production:
            self.production.connection = self.registry_connection()
            self.production.set_prompt(self.browser.current_prompt() or self.editor.prompt)
            self.production.reload()

    def focus_search(self) -> None:
        self.browser.search.setFocus()
        self.browser.search.selectAll()

    def run_compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare)
        self.compare.start_run()

    @Slot(object)
    def _on_committed(self, version: PromptVersion) -> None:
        self.history.reload()
        if self.registry_connection().configured:
            self.refresh_sync_state()
        self.compare.set_prompt(
            version.prompt, self.vault.history(version.prompt), self.cases.load(version.prompt)
        )
        if self.testcases.prompt == version.prompt:  # a variable may have become sensitive
            declared = version.content.variables
            self.testcases.set_prompt(
                version.prompt,
                [v.name for v in declared if v.binding is None],  # bound: from a source
                {v.name for v in declared if v.sensitivity == "sensitive"},
            )
        self.statusBar().showMessage(
            f"Committed {version.display_number} of {version.prompt}", 6000
        )

    @Slot(object)
    def _restore(self, version: PromptVersion) -> None:
        self.editor.load_content(
            version.content,
            f"Restored {version.display_number} as unsaved edits: commit to keep it.",
        )
        self.tabs.setCurrentWidget(self.editor)

    @Slot()
    def _on_cases_changed(self) -> None:
        if self.editor.prompt:
            self.editor.cases_changed()
            self.compare.set_cases(self.cases.load(self.editor.prompt))

    @Slot(object)
    def open_run(self, run_id: uuid.UUID) -> Run | None:
        try:
            run = RunStore(self.vault).load(run_id)
            labels = {v.id: v.display_number for v in self.vault.history(run.spec.prompt)}
        except WorkbenchError as exc:
            self.reporter.report(exc, "open the run")
            return None
        self.compare.show_run(run, labels)
        self.tabs.setCurrentWidget(self.compare)
        return run

    def ensure_author(self) -> bool:
        """Before a commit: the author is the registry login when known, else the name
        given once (asked now, the first time, and kept in the settings)."""
        from workbench.app.identity import apply_author, clean_author
        from workbench.vault import default_author

        if apply_author(self.vault, self.settings):
            return True
        name, ok = QInputDialog.getText(
            self,
            "Your name",
            "The name your versions carry (until you sign in to a team registry, "
            "whose login is used then):",
            text=default_author(),
        )
        if not ok:
            return False
        try:
            name = clean_author(name)
            new = self.settings.model_copy(update={"author": name})
            self._save_settings(new)
        except (WorkbenchError, OSError) as exc:
            self.reporter.report(exc, "save your name")
            return False
        self.settings = new
        self.vault.actor = name
        return True

    def open_sources(self) -> None:
        """The Data sources window (not modal: prompts and runs stay usable beside it)."""
        if self.sources_dialog is None:
            self.sources_dialog = SourcesDialog(
                self.vault, self.writer, self.reporter, self.secrets, self
            )
        self.sources_dialog.reload()
        self.sources_dialog.show()
        self.sources_dialog.raise_()
        self.sources_dialog.activateWindow()

    def open_settings(self) -> None:
        from workbench.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.settings, self.secrets, self.reporter, self, model_cache=self.model_lists.cache
        )
        if dialog.exec():
            try:
                self._save_settings(dialog.settings)
            except (WorkbenchError, OSError) as exc:
                self.reporter.report(exc, "save the settings")
                return
            self.settings = dialog.settings
            if dialog.identity_changed:  # a new URL or token: who we are is asked again
                self.sync.reset_identity()
                if self.registry_connection().configured:
                    self.refresh_sync_state()
            self.sync.sync_now(manual=dialog.identity_changed)
            self.compare.reload_models()
            self.model_lists.refresh(only_missing=True)  # saved profiles not listed yet
            self.editor.refresh()
            from PySide6.QtWidgets import QApplication

            from workbench.ui.theme import apply_theme

            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, self.settings.theme)

    def continue_from(self, version: PromptVersion | None = None) -> None:
        """Make ``version`` (default: the one selected in History) the next commit's parent.

        Unsaved edits are kept and rebased onto it; without edits the editor shows the
        version's content. This is how an author continues from either head of a fork."""
        chosen = self.history.selected_versions()
        target = version or (chosen[0] if len(chosen) == 1 else None)
        if target is None:
            self.reporter.report(
                UsageError(
                    "select one version in History first",
                    hint="For a fork, pick either head (marked ⑂).",
                ),
                "continue from a version",
            )
            return
        self.editor.flush_draft()
        draft = self.drafts.load(target.prompt)
        try:
            self.drafts.save(
                Draft(
                    prompt=target.prompt,
                    base_id=target.id,
                    content=draft.content if draft else target.content,
                    commit_message=draft.commit_message if draft else "",
                )
            )
        except OSError as exc:
            self.reporter.report(exc, "continue from the version")
            return
        self.editor.set_prompt(target.prompt)
        self.tabs.setCurrentWidget(self.editor)
        self.statusBar().showMessage(
            f"Continuing from {target.display_number}: the next commit builds on it.", 8000
        )
