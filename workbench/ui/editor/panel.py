"""The editor panel: one prompt open, its parts (see the package) tied together.

Every edit re-checks the templates (problems are marked at their line), refreshes
the preview and the estimate, and - after a short pause - saves a draft, so an
edit is never lost. Commit (Ctrl+S) is enabled only when a commit can succeed;
otherwise the label beside it says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import TemplateError
from workbench.core.models import Binding, PromptContent, PromptVersion
from workbench.core.templating import check_content, check_limits, content_variables
from workbench.providers.profiles import ProviderProfile
from workbench.ui.editor.commit import CommitBar
from workbench.ui.editor.content import STARTER, auto_declared, validation_text
from workbench.ui.editor.header import EditorHeader
from workbench.ui.editor.message_editor import MessageEditor
from workbench.ui.editor.messages import MessageList
from workbench.ui.editor.model_defaults import ModelDefaultsForm
from workbench.ui.editor.preview import PreviewPane
from workbench.ui.editor.variables import VariablesTable, variables_tab
from workbench.ui.empty_state import EmptyState
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import VaultWriter, run_in_thread
from workbench.ui.stores import CaseStore, Draft, DraftStore
from workbench.vault import Vault


class EditorPanel(QWidget):
    """Edits one prompt. ``committed`` fires with the new version."""

    committed = Signal(object)  # PromptVersion
    draft_state = Signal(str, bool)  # prompt, has unsaved edits
    commit_state = Signal(bool, str)  # enabled, reason
    commit_refused = Signal(str)  # Commit was asked for but cannot happen: why
    first_step = Signal(str)  # an empty-state button: "samples", "new" or "provider"

    def __init__(
        self,
        vault: Vault,
        drafts: DraftStore,
        cases: CaseStore,
        reporter: ErrorReporter,
        profiles: Callable[[], Mapping[str, ProviderProfile]],
        default_models: Callable[[], list[str]],
        *,
        writer: VaultWriter | None = None,
    ) -> None:
        super().__init__()
        self.vault = vault
        self.writer = writer or VaultWriter(reporter, self)
        """The window's one vault writer: a commit during an import queues behind it."""
        self.drafts = drafts
        self.cases = cases
        self.reporter = reporter
        self.profiles = profiles
        self.default_models = default_models
        self.before_commit: Callable[[], bool] = lambda: True
        """Asked before every commit; False stops it (the window asks for the author here)."""
        self.prompt: str | None = None
        self.base: PromptVersion | None = None
        self.content: PromptContent | None = None
        self.problems: list[TemplateError] = []
        self.build_error: str | None = None
        self._limits_generation = 0
        self.limits_pending = False
        """The render-bound checks of the shown content are running (off the GUI thread)."""
        self._unchanged: set[str] = set()
        """Content hashes that mean "nothing edited": the base version's, as stored and
        as the editor shows it right after opening (variables auto-declared)."""
        self._loading = False
        self._build()
        self._refresh_timer = QTimer(self, singleShot=True, interval=120)
        self._refresh_timer.timeout.connect(self.refresh)
        self._draft_timer = QTimer(self, singleShot=True, interval=400)
        self._draft_timer.timeout.connect(self.save_draft)
        self.set_prompt(None)

    # ---- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        root.addWidget(self.stack)
        self.empty_state = EmptyState(
            "No prompt selected",
            "Choose a prompt on the left, or create one.",
            ("samples", "new", "provider"),
        )
        self.empty_state.requested.connect(self.first_step)
        self.stack.addWidget(self.empty_state)
        self.editor_page = QWidget()
        self.stack.addWidget(self.editor_page)
        outer = QVBoxLayout(self.editor_page)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)

        self.header = EditorHeader()
        self.header.discard_requested.connect(self.discard_draft)
        outer.addWidget(self.header)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        outer.addWidget(split, 1)

        self.messages = MessageList()
        self.messages.changed.connect(self._on_edit)
        split.addWidget(self.messages)

        # Parameters / variables / preview (right)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        self.defaults = ModelDefaultsForm()
        self.defaults.changed.connect(self._on_edit)
        tabs.addTab(self.defaults, "Model defaults")
        self.variables = VariablesTable()
        self.variables.changed.connect(self._on_edit)
        tabs.addTab(variables_tab(self.variables), "Variables")
        right.addWidget(tabs)
        self.preview = PreviewPane(self.profiles, self.default_models)
        self.preview.changed.connect(self._on_edit)
        right.addWidget(self.preview)
        right.setSizes([300, 360])
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 460])  # proportions: the variables table needs room at 1024 px

        self.commit_bar = CommitBar(self.vault, self.writer, self.reporter)
        self.commit_bar.changed.connect(self._on_edit)
        self.commit_bar.commit_requested.connect(self.commit)
        self.commit_bar.resumed.connect(self.refresh)
        self.commit_bar.committed.connect(self._committed)
        outer.addWidget(self.commit_bar)

    # ---- loading ---------------------------------------------------------------------

    def set_prompt(self, name: str | None) -> None:
        """Show ``name``: its draft if it has one, else its latest version."""
        self.flush_draft()
        self.prompt = name
        self.base = None
        self._unchanged = set()
        if name is None:
            self._load(STARTER, "", None)
            self.header.show_none()
            self.stack.setCurrentWidget(self.empty_state)
            self._update_commit_state()
            return
        self.stack.setCurrentWidget(self.editor_page)
        history = self.vault.history(name)
        self.base = history[-1] if history else None
        draft = self.drafts.load(name)
        if draft is not None:
            if draft.base_id is not None and (self.base is None or draft.base_id != self.base.id):
                self.base = next((v for v in history if v.id == draft.base_id), self.base)
            self._load(draft.content, draft.commit_message, "Unsaved edits restored from a draft.")
        else:
            self._load(self.base.content if self.base else STARTER, "", None)
        self._note_unchanged()
        self.header.title.setText(name)
        self.header.show_base(self.base)
        self.refresh()
        if draft is None and self.base is not None and self.content is not None:
            # What the widgets make of the untouched version is not an edit either.
            self._unchanged.add(self.content.content_hash())
            self._update_commit_state()
        self.draft_state.emit(name, draft is not None)  # e.g. the title's unsaved mark

    def _note_unchanged(self) -> None:
        base = self.base
        self._unchanged = (
            {base.content_hash, auto_declared(base.content).content_hash()} if base else set()
        )

    def show_vault_empty(self, empty: bool) -> None:
        """With no prompt open: first steps for an empty vault, else "choose one"."""
        if empty:
            self.empty_state.set_message(
                "Welcome to Prompt Workbench",
                "Your vault has no prompts yet. Load the samples to look around, start a "
                "prompt of your own, or add the model provider you want to compare with.",
                ("samples", "new", "provider"),
            )
        else:
            self.empty_state.set_message(
                "No prompt selected",
                "Choose a prompt on the left, or create a new one (Ctrl+N).",
                ("new", "provider"),
            )

    def load_content(self, content: PromptContent, note: str) -> None:
        """Replace the editor's content (e.g. restoring an old version) as a draft."""
        if self.prompt is None:
            return
        history = self.vault.history(self.prompt)
        self.base = history[-1] if history else None
        self._note_unchanged()
        self._load(content, "", note)
        self.header.show_base(self.base)
        self.refresh()
        self.save_draft()

    def _load(self, content: PromptContent, commit_message: str, note: str | None) -> None:
        self._loading = True
        try:
            self.messages.load(content.messages)
            self.defaults.load(content.model, content.tags)
            self.variables.load(content.variables)
            self.commit_bar.message.setText(commit_message)
            self._reload_cases()
            self.header.show_note(note)
        finally:
            self._loading = False

    def _reload_cases(self) -> None:
        self.preview.load_cases(self.cases.load(self.prompt) if self.prompt is not None else [])

    def cases_changed(self) -> None:
        self._reload_cases()
        self.refresh()

    @property
    def message_editors(self) -> list[MessageEditor]:
        return self.messages.editors

    def _bindings(self) -> dict[str, Binding]:
        """The data-source bindings of the version edited, kept by variable name (the
        table does not edit them: ``workbench commit`` or the prompt file does)."""
        if self.base is None:
            return {}
        return {v.name: v.binding for v in self.base.content.variables if v.binding is not None}

    def _sync_variables(self, used: set[str]) -> None:
        """The variables table follows the templates (quietly: not an edit of its own)."""
        self._loading = True
        try:
            self.variables.follow(used)
        finally:
            self._loading = False

    # ---- state -----------------------------------------------------------------------

    def build_content(self) -> PromptContent:
        """The content the widgets describe; raises ``ValueError`` when a field is invalid."""
        model, tags = self.defaults.read()
        return PromptContent(
            messages=self.messages.messages(),
            model=model,
            variables=tuple(self.variables.rows(self._bindings())),
            tags=tags,
        )

    @Slot()
    def _on_edit(self) -> None:
        if self._loading or self.prompt is None:
            return
        self._refresh_timer.start()
        self._draft_timer.start()

    @Slot()
    def refresh(self) -> None:
        """Re-check, re-render and re-estimate from the widgets."""
        if self.prompt is None:
            return
        self.build_error = None
        self._limits_generation += 1  # a check of older text still running is not wanted
        self.limits_pending = False
        try:
            content = self.build_content()
        except (ValidationError, ValueError) as exc:
            self.content = None
            self.build_error = validation_text(exc)
            self.problems = []
        else:
            # The checks that only read the text run here; the one that renders (the
            # limits: loops, sizes, time) runs off the GUI thread and joins when done.
            self.problems = check_content(content, limits=False)
            if not any(p.severity == "error" for p in self.problems):
                self._sync_variables(content_variables(content))
                content = self.build_content()
                self.problems = check_content(content, limits=False)
            self.content = content
            if not any(p.severity == "error" for p in self.problems):
                self._check_limits(content)
        self._show_problems()

    def _check_limits(self, content: PromptContent) -> None:
        """Render-bound checks of ``content`` off the GUI thread; their problems join the
        others if the content is still the one shown."""
        self._limits_generation += 1
        generation = self._limits_generation
        self.limits_pending = True

        def done(found: list[TemplateError]) -> None:
            if generation != self._limits_generation:
                return
            self.limits_pending = False
            if found:
                self.problems = [*found, *self.problems]
                self._show_problems()

        def failed(exc: BaseException) -> None:
            if generation == self._limits_generation:
                self.limits_pending = False
            raise exc  # a bug: the app's excepthook shows it

        run_in_thread(lambda: check_limits(content), done, failed, owner=self)

    def _show_problems(self) -> None:
        """Mark the problems at their messages, list the others, refresh the preview."""
        self.messages.show_problems(self.problems, self.build_error)
        errors = any(p.severity == "error" for p in self.problems)
        self.preview.show_content(None if errors else self.content)
        self._update_commit_state()

    def unchanged(self) -> bool:
        """Whether the content is the base version's (auto-declared variables aside)."""
        return self.content is not None and self.content.content_hash() in self._unchanged

    def unsaved(self) -> bool:
        if self.prompt is None:
            return False
        if self.content is None:
            return True
        return not self.unchanged() or bool(self.commit_bar.message_text())

    def commit_blocker(self) -> str:
        """Why Commit is disabled ('' when it is enabled)."""
        if self.prompt is None:
            return "Choose a prompt first"
        if self.build_error:
            return f"Fix the settings: {self.build_error}"
        if waiting := self.commit_bar.waiting_reason():
            return waiting
        errors = [p for p in self.problems if p.severity == "error"]
        if errors or self.content is None:
            first = errors[0] if errors else None
            where = f" ({first.where} line {first.line})" if first and first.line else ""
            return f"Fix the template error first{where}"
        if self.base is not None and self.unchanged():
            return f"Nothing to commit: same as {self.base.display_number}"
        if not self.commit_bar.message_text():
            return "Write a commit message saying what changed"
        return ""

    def _update_commit_state(self) -> None:
        reason = self.commit_blocker()
        self.commit_bar.show_blocker(reason)
        self.commit_state.emit(not reason, reason)

    # ---- drafts and commits ----------------------------------------------------------

    def flush_draft(self) -> None:
        """Save a pending draft now (before switching prompt or closing)."""
        if self._draft_timer.isActive():
            self._draft_timer.stop()
            self.refresh()
            self.save_draft()

    @Slot()
    def save_draft(self) -> None:
        if self.prompt is None:
            return
        if self._refresh_timer.isActive():
            self._refresh_timer.stop()
            self.refresh()
        if self.unsaved() and self.content is not None:
            self.drafts.save(
                Draft(
                    prompt=self.prompt,
                    base_id=self.base.id if self.base else None,
                    content=self.content,
                    commit_message=self.commit_bar.message.text(),
                )
            )
            self.draft_state.emit(self.prompt, True)
        elif self.content is not None:
            self.drafts.discard(self.prompt)
            self.draft_state.emit(self.prompt, False)

    @Slot()
    def discard_draft(self) -> None:
        if self.prompt is None:
            return
        self._draft_timer.stop()
        self.drafts.discard(self.prompt)
        self.draft_state.emit(self.prompt, False)
        self.set_prompt(self.prompt)

    @Slot()
    def commit(self) -> None:
        self._refresh_timer.stop()
        self.refresh()
        reason = self.commit_blocker()
        if reason or self.prompt is None or self.content is None:
            if "commit message" in reason:
                self.commit_bar.message.setFocus()
            self.commit_refused.emit(reason or "Nothing to commit")
            return
        if not self.before_commit():
            self.commit_refused.emit("Not committed: versions need an author name")
            return
        parents = [self.base.id] if self.base else None
        if not self.commit_bar.start(self.prompt, self.content, parents):
            self._update_commit_state()  # queued behind a long write: say so, keep typing

    @Slot(str, object)
    def _committed(self, prompt: str, version: PromptVersion) -> None:
        if prompt != self.prompt:  # another prompt was opened while it waited
            self.drafts.discard(prompt)
            self.draft_state.emit(prompt, False)
            self.committed.emit(version)
            return
        self._draft_timer.stop()
        self.drafts.discard(self.prompt)
        self.base = version
        self._note_unchanged()
        self._loading = True
        self.commit_bar.message.clear()
        self._loading = False
        self.header.show_note(None)
        self.header.show_base(self.base)
        self.refresh()
        self.draft_state.emit(self.prompt, False)
        self.committed.emit(version)

    def base_id(self) -> uuid.UUID | None:
        return self.base.id if self.base else None
