"""The prompt editor: messages, model defaults, variables, live preview, estimate, commit.

Every edit re-checks the templates (problems are marked at their line), refreshes
the preview and the estimate, and - after a short pause - saves a draft, so an
edit is never lost. Commit (Ctrl+S) is enabled only when a commit can succeed;
otherwise the label beside it says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import RenderError, TemplateError, WorkbenchError
from workbench.core.models import (
    Binding,
    Message,
    ModelDefaults,
    PromptContent,
    PromptVersion,
    Variable,
)
from workbench.core.runs import ModelRef, TestCase
from workbench.core.templating import (
    RenderedMessage,
    check_content,
    render_messages,
)
from workbench.engine.pricing import price_call
from workbench.engine.runner import DEFAULT_OUTPUT_GUESS, call_tokens_estimate
from workbench.providers.profiles import ProviderProfile
from workbench.ui.empty_state import EmptyState
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_usd, model_label
from workbench.ui.highlight import monospace_font
from workbench.ui.message_editor import MessageEditor
from workbench.ui.ops import VaultWriter, run_in_thread
from workbench.ui.stores import CaseStore, Draft, DraftStore
from workbench.ui.theme import current_theme
from workbench.vault import Vault

VARIABLE_TYPES = ("string", "number", "integer", "boolean", "json")
STARTER = PromptContent(
    messages=(
        Message(role="system", template="You are a helpful assistant."),
        Message(role="user", template="{{ question }}"),
    ),
    variables=(
        Variable(
            name="question",
            description="What the user asks",
            default="What can you help me with?",
        ),
    ),
)
"""A new prompt's first content: every variable it uses is declared with a default,
so its preview renders before any test case exists."""


def auto_declared(content: PromptContent) -> PromptContent:
    """``content`` as the editor shows it after opening: variables the templates use
    but do not declare are added (plain required strings), and declared ones no
    template uses that carry nothing typed (no default, no description) are dropped.

    The editor compares against this as well as the stored content, so opening a
    version never counts as an edit (the same rule as ``EditorPanel._sync_variables``)."""
    from workbench.core.templating import content_variables

    try:
        used = content_variables(content)
    except (TemplateError, RenderError):
        return content
    kept = [
        v for v in content.variables if v.name in used or v.description or v.default is not None
    ]
    declared = {v.name for v in kept}
    added = [Variable(name=n) for n in sorted(used - declared)]
    return content.model_copy(
        update={"variables": tuple(sorted(kept + added, key=lambda v: v.name))}
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _optional_spin(
    box: QDoubleSpinBox | QSpinBox, low: float, high: float, step: float, tip: str
) -> None:
    """The minimum (one step below the real range) stands for 'unset'."""
    box.setRange(low - step, high)  # type: ignore[arg-type]
    box.setSingleStep(step)  # type: ignore[arg-type]
    box.setSpecialValueText("provider default")
    box.setValue(low - step)  # type: ignore[arg-type]
    box.setToolTip(tip)


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
        self._committing: str | None = None  # the prompt of a commit waiting its turn
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
        self._preview_generation = 0
        self.preview_pending = False
        self._limits_generation = 0
        self.limits_pending = False
        """The render-bound checks of the shown content are running (off the GUI thread)."""
        """A preview render is running (off the GUI thread); its answer replaces the text."""
        self._unchanged: set[str] = set()
        """Content hashes that mean "nothing edited": the base version's, as stored and
        as the editor shows it right after opening (variables auto-declared)."""
        self._loading = False
        self._editors: list[MessageEditor] = []
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

        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("promptTitle")
        self.base_label = QLabel()
        self.base_label.setObjectName("dimLabel")
        head.addWidget(self.title)
        head.addWidget(self.base_label)
        head.addStretch(1)
        outer.addLayout(head)

        self.banner = QFrame()
        self.banner.setObjectName("draftBanner")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 4, 6, 4)
        self.banner_text = QLabel()
        self.discard_button = QPushButton("Discard edits")
        self.discard_button.clicked.connect(self.discard_draft)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.discard_button)
        self.banner.hide()
        outer.addWidget(self.banner)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        outer.addWidget(split, 1)

        # Messages (left)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.messages_box = QWidget()
        self.messages_layout = QVBoxLayout(self.messages_box)
        self.messages_layout.setContentsMargins(0, 0, 4, 0)
        self.messages_layout.setSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.messages_box)
        left_layout.addWidget(scroll, 1)
        add_row = QHBoxLayout()
        self.add_message_button = QPushButton("Add message")
        self.add_message_button.clicked.connect(
            lambda: self.add_message(Message(role="user", template=""))
        )
        self.global_problems = QLabel()
        self.global_problems.setObjectName("problemLabel")
        self.global_problems.setWordWrap(True)
        add_row.addWidget(self.add_message_button)
        add_row.addWidget(self.global_problems, 1)
        left_layout.addLayout(add_row)
        split.addWidget(left)

        # Parameters / variables / preview (right)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        tabs.addTab(self._build_params(), "Model defaults")
        tabs.addTab(self._build_variables(), "Variables")
        right.addWidget(tabs)
        right.addWidget(self._build_preview())
        right.setSizes([300, 360])
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 460])  # proportions: the variables table needs room at 1024 px

        # Commit bar
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.commit_message = QLineEdit()
        self.commit_message.setPlaceholderText("Commit message: what changed and why")
        self.commit_message.setAccessibleName("Commit message")
        self.commit_message.textChanged.connect(self._on_edit)
        self.commit_message.returnPressed.connect(self.commit)
        self.commit_reason = QLabel()
        self.commit_reason.setObjectName("commitReason")
        self.commit_button = QPushButton("Commit")
        self.commit_button.setObjectName("primaryButton")
        self.commit_button.setToolTip("Commit a new version (Ctrl+S)")
        self.commit_button.clicked.connect(self.commit)
        bar.addWidget(self.commit_message, 1)
        bar.addWidget(self.commit_reason)
        bar.addWidget(self.commit_button)
        outer.addLayout(bar)

    def _build_params(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.p_model = QLineEdit()
        self.p_model.setPlaceholderText("e.g. gpt-4o-mini")
        self.p_temperature = QDoubleSpinBox()
        self.p_temperature.setDecimals(2)
        _optional_spin(self.p_temperature, 0.0, 2.0, 0.05, "Sampling temperature, 0 to 2")
        self.p_max_tokens = QSpinBox()
        _optional_spin(self.p_max_tokens, 1, 1_000_000, 1, "Largest number of output tokens")
        self.p_top_p = QDoubleSpinBox()
        self.p_top_p.setDecimals(2)
        _optional_spin(self.p_top_p, 0.0, 1.0, 0.05, "Nucleus sampling, 0 to 1")
        self.p_stop = QLineEdit()
        self.p_stop.setPlaceholderText("comma-separated, e.g. ###, END")
        self.p_format = QComboBox()
        self.p_format.addItems(["provider default", "text", "json_object"])
        self.p_fallbacks = QLineEdit()
        self.p_fallbacks.setPlaceholderText("profile:model, tried in order when the model fails")
        self.p_tags = QLineEdit()
        self.p_tags.setPlaceholderText("comma-separated, e.g. support, tone:formal")
        form.addRow("Model", self.p_model)
        form.addRow("Temperature", self.p_temperature)
        form.addRow("Max tokens", self.p_max_tokens)
        form.addRow("Top p", self.p_top_p)
        form.addRow("Stop", self.p_stop)
        form.addRow("Response format", self.p_format)
        form.addRow("Fallbacks", self.p_fallbacks)
        form.addRow("Tags", self.p_tags)
        for edit in (self.p_model, self.p_stop, self.p_fallbacks, self.p_tags):
            edit.textChanged.connect(self._on_edit)
        for spin in (self.p_temperature, self.p_top_p):
            spin.valueChanged.connect(self._on_edit)
        self.p_max_tokens.valueChanged.connect(self._on_edit)
        self.p_format.currentIndexChanged.connect(self._on_edit)
        return w

    def _build_variables(self) -> QWidget:
        w = QWidget()
        layout = QVBoxLayout(w)
        layout.setContentsMargins(0, 4, 0, 0)
        hint = QLabel("Found in the templates. Type, default and description are yours to set.")
        hint.setObjectName("dimLabel")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.variables = QTableWidget(0, 6)
        self.variables.setObjectName("variablesTable")
        self.variables.setHorizontalHeaderLabels(
            ["Name", "Type", "Required", "Default", "Description", "Sensitivity"]
        )
        level_header = self.variables.horizontalHeaderItem(5)
        if level_header is not None:
            level_header.setToolTip(
                "sensitive: values are sent to the model but stored nowhere in clear (the "
                "run log, exports and cache say [sensitive: name])"
            )
        self.variables.verticalHeader().hide()
        header = self.variables.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.variables.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.variables.itemChanged.connect(self._on_edit)
        layout.addWidget(self.variables)
        return w

    def _build_preview(self) -> QWidget:
        box = QGroupBox("Preview")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Test case"))
        self.case_combo = QComboBox()
        self.case_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.case_combo.currentIndexChanged.connect(self._on_edit)
        row.addWidget(self.case_combo, 1)
        layout.addLayout(row)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("previewText")
        self.preview.setReadOnly(True)
        self.preview.setFont(monospace_font())
        layout.addWidget(self.preview, 1)
        self.estimate = QLabel()
        self.estimate.setObjectName("estimateLabel")
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.estimate)
        return box

    # ---- loading ---------------------------------------------------------------------

    def set_prompt(self, name: str | None) -> None:
        """Show ``name``: its draft if it has one, else its latest version."""
        self.flush_draft()
        self.prompt = name
        self.base = None
        self._unchanged = set()
        if name is None:
            self._load(STARTER, "", None)
            self.title.setText("No prompt selected")
            self.base_label.setText("")
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
        self.title.setText(name)
        self._update_base_label()
        self.refresh()
        if draft is None and self.base is not None and self.content is not None:
            # What the widgets make of the untouched version is not an edit either.
            self._unchanged.add(self.content.content_hash())
            self._update_commit_state()
        self.draft_state.emit(name, draft is not None)  # e.g. the title's unsaved mark

    def _note_unchanged(self) -> None:
        self._unchanged = set()
        if self.base is not None:
            self._unchanged = {
                self.base.content_hash,
                auto_declared(self.base.content).content_hash(),
            }

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
        self._update_base_label()
        self.refresh()
        self.save_draft()

    def _update_base_label(self) -> None:
        if self.base is None:
            self.base_label.setText("new prompt: no versions yet")
        else:
            self.base_label.setText(
                f"editing on top of {self.base.display_number} · {self.base.author} · "
                f"{self.base.created_at:%Y-%m-%d %H:%M}"
            )

    def _load(self, content: PromptContent, commit_message: str, note: str | None) -> None:
        self._loading = True
        try:
            for ed in self._editors:
                ed.setParent(None)
                ed.deleteLater()
            self._editors = []
            while self.messages_layout.count():
                self.messages_layout.takeAt(0)
            for m in content.messages:
                self.add_message(m, refresh=False)
            self.messages_layout.addStretch(0)
            model = content.model
            self.p_model.setText(model.model or "")
            self._set_spin(self.p_temperature, model.temperature)
            self._set_spin(self.p_max_tokens, model.max_tokens)
            self._set_spin(self.p_top_p, model.top_p)
            self.p_stop.setText(", ".join(model.stop))
            self.p_format.setCurrentText(model.response_format or "provider default")
            self.p_fallbacks.setText(", ".join(model.fallbacks))
            self.p_tags.setText(", ".join(content.tags))
            self.variables.setRowCount(0)
            for v in content.variables:
                self._add_variable_row(v)
            self.commit_message.setText(commit_message)
            self._reload_cases()
            self.banner_text.setText(note or "")
            self.banner.setVisible(bool(note))
        finally:
            self._loading = False

    @staticmethod
    def _set_spin(box: QDoubleSpinBox | QSpinBox, value: float | None) -> None:
        box.setValue(box.minimum() if value is None else value)  # type: ignore[arg-type]

    def _reload_cases(self) -> None:
        current = self.case_combo.currentText()
        self.case_combo.blockSignals(True)
        self.case_combo.clear()
        self.case_combo.addItem("defaults only", None)
        if self.prompt is not None:
            for case in self.cases.load(self.prompt):
                self.case_combo.addItem(case.name or "(unnamed)", case)
        index = self.case_combo.findText(current) if current != "defaults only" else -1
        if index < 0:  # a real case renders more than the defaults usually can
            index = 1 if self.case_combo.count() > 1 else 0
        self.case_combo.setCurrentIndex(index)
        self.case_combo.blockSignals(False)

    def cases_changed(self) -> None:
        self._reload_cases()
        self.refresh()

    def add_message(self, message: Message, refresh: bool = True) -> MessageEditor:
        ed = MessageEditor(message)
        ed.changed.connect(self._on_edit)
        ed.remove_requested.connect(self._remove_message)
        index = len(self._editors)
        self._editors.append(ed)
        self.messages_layout.insertWidget(index, ed)
        self._renumber()
        if refresh:
            ed.text.setFocus()
            self._on_edit()
        return ed

    @Slot(object)
    def _remove_message(self, ed: MessageEditor) -> None:
        if len(self._editors) <= 1:
            return
        self._editors.remove(ed)
        ed.setParent(None)
        ed.deleteLater()
        self._renumber()
        self._on_edit()

    def _renumber(self) -> None:
        for i, ed in enumerate(self._editors):
            ed.title.setText(f"Message {i + 1}")
            ed.remove.setEnabled(len(self._editors) > 1)

    @property
    def message_editors(self) -> list[MessageEditor]:
        return list(self._editors)

    # ---- variables table -------------------------------------------------------------

    def _add_variable_row(self, v: Variable) -> None:
        row = self.variables.rowCount()
        self.variables.insertRow(row)
        name = QTableWidgetItem(v.name)
        name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.variables.setItem(row, 0, name)
        combo = QComboBox()
        combo.addItems(VARIABLE_TYPES)
        combo.setCurrentText(v.type)
        combo.currentTextChanged.connect(self._on_edit)
        self.variables.setCellWidget(row, 1, combo)
        req = QTableWidgetItem()
        req.setFlags((req.flags() | Qt.ItemFlag.ItemIsUserCheckable) & ~Qt.ItemFlag.ItemIsEditable)
        req.setCheckState(Qt.CheckState.Checked if v.required else Qt.CheckState.Unchecked)
        self.variables.setItem(row, 2, req)
        default = "" if v.default is None else str(v.default)
        self.variables.setItem(row, 3, QTableWidgetItem(default))
        self.variables.setItem(row, 4, QTableWidgetItem(v.description))
        sensitivity = QComboBox()
        sensitivity.addItems(["public", "internal", "sensitive"])
        sensitivity.setCurrentText(v.sensitivity)
        sensitivity.setAccessibleName(f"Sensitivity of {v.name}")
        sensitivity.currentTextChanged.connect(self._on_edit)
        self.variables.setCellWidget(row, 5, sensitivity)

    def _cell_text(self, row: int, col: int) -> str:
        item = self.variables.item(row, col)
        return item.text() if item is not None else ""

    def _variable_rows(self) -> list[Variable]:
        out = []
        for row in range(self.variables.rowCount()):
            name = self._cell_text(row, 0)
            combo = self.variables.cellWidget(row, 1)
            type_ = combo.currentText() if isinstance(combo, QComboBox) else "string"
            check = self.variables.item(row, 2)
            required = check is None or check.checkState() == Qt.CheckState.Checked
            default_text = self._cell_text(row, 3)
            level = self.variables.cellWidget(row, 5)
            sensitivity = level.currentText() if isinstance(level, QComboBox) else "public"
            out.append(
                Variable(
                    name=name,
                    type=type_,
                    required=required,
                    default=default_text if default_text != "" else None,
                    description=self._cell_text(row, 4),
                    sensitivity=sensitivity,
                    binding=self._bindings().get(name),
                )
            )
        return out

    def _bindings(self) -> dict[str, Binding]:
        """The data-source bindings of the version edited, kept by variable name (the
        table does not edit them: ``workbench commit`` or the prompt file does)."""
        if self.base is None:
            return {}
        return {v.name: v.binding for v in self.base.content.variables if v.binding is not None}

    def _sync_variables(self, used: set[str]) -> None:
        """Rows follow the templates: new names appear; a row disappears when no
        template uses it any more and it carries nothing typed by the author."""
        self._loading = True
        try:
            rows = {v.name: (i, v) for i, v in enumerate(self._variable_rows())}
            stale = [
                i
                for n, (i, v) in rows.items()
                if n not in used and not v.description and v.default is None
            ]
            for row in sorted(stale, reverse=True):
                self.variables.removeRow(row)
            for name in sorted(used - set(rows)):
                self._add_variable_row(Variable(name=name))
            self.variables.sortItems(0)
        finally:
            self._loading = False

    # ---- state -----------------------------------------------------------------------

    def _csv(self, text: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in text.split(",") if p.strip())

    def build_content(self) -> PromptContent:
        """The content the widgets describe; raises ``ValueError`` when a field is invalid."""

        def spin(box: QDoubleSpinBox | QSpinBox) -> Any:
            return None if box.value() == box.minimum() else box.value()

        fmt = self.p_format.currentText()
        model = ModelDefaults(
            model=self.p_model.text().strip() or None,
            temperature=spin(self.p_temperature),
            max_tokens=spin(self.p_max_tokens),
            top_p=spin(self.p_top_p),
            stop=self._csv(self.p_stop.text()),
            response_format=None if fmt == "provider default" else fmt,
            fallbacks=self._csv(self.p_fallbacks.text()),
        )
        return PromptContent(
            messages=tuple(ed.message() for ed in self._editors),
            model=model,
            variables=tuple(self._variable_rows()),
            tags=self._csv(self.p_tags.text()),
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
            self.build_error = _validation_text(exc)
            self.problems = []
        else:
            # The checks that only read the text run here; the one that renders (the
            # limits: loops, sizes, time) runs off the GUI thread and joins when done.
            self.problems = check_content(content, limits=False)
            if not any(p.severity == "error" for p in self.problems):
                from workbench.core.templating import content_variables

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
        from workbench.core.templating import check_limits

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

        run_in_thread(lambda: check_limits(content), done, failed)

    def _show_problems(self) -> None:
        """Mark the problems at their messages, list the others, refresh the preview."""
        by_message: dict[int, list[TemplateError]] = {}
        general: list[TemplateError] = []
        for p in self.problems:
            if p.message_index is None:
                general.append(p)
            else:
                by_message.setdefault(p.message_index, []).append(p)
        for i, ed in enumerate(self._editors):
            ed.show_problems(by_message.get(i, []))
        theme = current_theme()
        texts = [f"<span style='color:{theme.warning}'>{_html(p.message)}</span>" for p in general]
        if self.build_error:
            texts.insert(0, f"<span style='color:{theme.error}'>{_html(self.build_error)}</span>")
        self.global_problems.setText("<br>".join(texts))
        self._refresh_preview()
        self._update_commit_state()

    def _selected_case(self) -> TestCase:
        case = self.case_combo.currentData()
        return case if isinstance(case, TestCase) else TestCase(name="defaults")

    def _refresh_preview(self) -> None:
        content = self.content
        if content is None or any(p.severity == "error" for p in self.problems):
            self._preview_generation += 1  # a render still running is no longer wanted
            self.preview_pending = False
            self.preview.setPlainText("(fix the problems marked in the messages to see a preview)")
            self.estimate.setText("")
            return
        case = self._selected_case()
        # Rendered off the GUI thread (a template can take up to its render bound, a
        # second, to render or be stopped); only the newest request's answer is shown.
        self._preview_generation += 1
        generation = self._preview_generation
        self.preview_pending = True

        def done(rendered: list[RenderedMessage]) -> None:
            if generation != self._preview_generation:
                return  # an older edit's render: a newer one is on its way
            self.preview_pending = False
            self.preview.setPlainText("\n\n".join(f"── {m.role} ──\n{m.content}" for m in rendered))
            tokens_in, tokens_out = call_tokens_estimate(
                (m.content for m in rendered), content.model.max_tokens
            )
            self.estimate.setText(
                self._estimate_html(tokens_in, tokens_out, content.model.max_tokens)
            )

        def failed(exc: BaseException) -> None:
            if generation != self._preview_generation:
                return
            self.preview_pending = False
            if not isinstance(exc, RenderError | TemplateError):
                raise exc  # a bug: the app's excepthook shows it
            self.preview.setPlainText(
                f"Cannot render with this test case:\n{exc.message}\n\n{exc.hint}"
            )
            self.estimate.setText("")

        from workbench.app.sources import stand_ins

        # A variable bound to a data source shows as [source.field]: nothing is read here.
        values = {**case.values, **stand_ins(content)}
        run_in_thread(lambda: render_messages(content, values), done, failed)

    def _estimate_html(self, tokens_in: int, tokens_out: int, capped: int | None) -> str:
        profiles = self.profiles()
        out_note = "max tokens" if capped else f"{DEFAULT_OUTPUT_GUESS} guessed"
        rows = [
            f"<b>≈ {tokens_in:,}</b> tokens in · up to <b>{tokens_out:,}</b> out "
            f"<span style='color:gray'>({out_note}; estimated at 4 chars/token)</span>"
        ]
        cells = []
        for text in self.default_models():
            try:
                ref = ModelRef.parse(text)
            except ValueError:
                continue
            profile = profiles.get(ref.profile)
            if profile is None:
                cells.append(f"<td>{_html(text)}</td><td align='right'>no such profile</td>")
                continue
            cost, _source = price_call(profile, ref.model, tokens_in, tokens_out)
            label = model_label(str(ref), profile.family == "echo")
            cells.append(
                f"<td>{_html(label)}</td><td align='right'>"
                + (f"up to {fmt_usd(cost)} per call" if cost is not None else "price unknown")
                + "</td>"
            )
        if cells:
            rows.append(
                "<table cellspacing='0' cellpadding='1'>"
                + "".join(f"<tr>{c}<td width='12'></td></tr>" for c in cells)
                + "</table>"
            )
        return "".join(rows)

    def unchanged(self) -> bool:
        """Whether the content is the base version's (auto-declared variables aside)."""
        return self.content is not None and self.content.content_hash() in self._unchanged

    def unsaved(self) -> bool:
        if self.prompt is None:
            return False
        if self.content is None:
            return True
        return not self.unchanged() or bool(self.commit_message.text().strip())

    def commit_blocker(self) -> str:
        """Why Commit is disabled ('' when it is enabled)."""
        if self.prompt is None:
            return "Choose a prompt first"
        if self.build_error:
            return f"Fix the settings: {self.build_error}"
        if self._committing is not None:
            busy = self.writer.busy or "another write"
            return f"Committing as soon as {busy} is done"
        errors = [p for p in self.problems if p.severity == "error"]
        if errors or self.content is None:
            first = errors[0] if errors else None
            where = f" ({first.where} line {first.line})" if first and first.line else ""
            return f"Fix the template error first{where}"
        if self.base is not None and self.unchanged():
            return f"Nothing to commit: same as {self.base.display_number}"
        if not self.commit_message.text().strip():
            return "Write a commit message saying what changed"
        return ""

    def _update_commit_state(self) -> None:
        reason = self.commit_blocker()
        self.commit_button.setEnabled(not reason)
        self.commit_reason.setText(reason)
        self.commit_button.setToolTip(reason or "Commit a new version (Ctrl+S)")
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
                    commit_message=self.commit_message.text(),
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
                self.commit_message.setFocus()
            self.commit_refused.emit(reason or "Nothing to commit")
            return
        if not self.before_commit():
            self.commit_refused.emit("Not committed: versions need an author name")
            return
        prompt, content, vault = self.prompt, self.content, self.vault
        message = self.commit_message.text().strip()
        parents = [self.base.id] if self.base else None

        def failed(exc: BaseException) -> None:
            self._commit_ended()
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "commit")

        def done(version: PromptVersion) -> None:
            self._commit_ended()
            self._committed(prompt, version)

        def commit() -> PromptVersion:
            from workbench.app.identity import known_role
            from workbench.app.sources import prepare_commit
            from workbench.settings import load_settings

            # Bindings to data sources: checked against their allow-lists, then pinned.
            checked = prepare_commit(vault, prompt, content, known_role(load_settings()))
            return vault.commit(prompt, checked, message, parents=parents)

        now = self.writer.write(
            f"committing {prompt}",
            commit,
            done,
            failed,
        )
        if not now:  # queued behind a long write (an import): say so, keep typing
            self._committing = prompt
            self.commit_button.setText("Waiting…")
            self._update_commit_state()

    def _commit_ended(self) -> None:
        if self._committing is not None:
            self._committing = None
            self.commit_button.setText("Commit")
            self.refresh()

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
        self.commit_message.clear()
        self._loading = False
        self.banner.hide()
        self._update_base_label()
        self.refresh()
        self.draft_state.emit(self.prompt, False)
        self.committed.emit(version)

    def base_id(self) -> uuid.UUID | None:
        return self.base.id if self.base else None


def _validation_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    return str(exc)
