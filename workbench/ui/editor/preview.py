"""The editor's live preview: the messages rendered with a chosen test case, and what
one call would cost on each of the default models (tokens estimated from the text).

Rendering runs off the GUI thread (a template may take up to its render bound); only
the newest request's answer is shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
)

from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import PromptContent
from workbench.core.runs import ModelRef, TestCase
from workbench.core.templating import RenderedMessage, render_messages
from workbench.engine.pricing import price_call
from workbench.engine.runner import DEFAULT_OUTPUT_GUESS, call_tokens_estimate
from workbench.providers.profiles import ProviderProfile
from workbench.ui.format import fmt_usd, model_label
from workbench.ui.highlight import monospace_font
from workbench.ui.ops import run_in_thread

DEFAULTS_ONLY = "defaults only"


def estimate_html(
    tokens_in: int,
    tokens_out: int,
    capped: int | None,
    profiles: Mapping[str, ProviderProfile],
    models: list[str],
) -> str:
    """The token estimate, and the most a call could cost on each of ``models``."""
    out_note = "max tokens" if capped else f"{DEFAULT_OUTPUT_GUESS} guessed"
    rows = [
        f"<b>≈ {tokens_in:,}</b> tokens in · up to <b>{tokens_out:,}</b> out "
        f"<span style='color:gray'>({out_note}; estimated at 4 chars/token)</span>"
    ]
    cells = []
    for text in models:
        try:
            ref = ModelRef.parse(text)
        except ValueError:
            continue
        profile = profiles.get(ref.profile)
        if profile is None:
            cells.append(
                f"<td>{html.escape(text, quote=False)}</td><td align='right'>no such profile</td>"
            )
            continue
        cost, _source = price_call(profile, ref.model, tokens_in, tokens_out)
        label = model_label(str(ref), profile.family == "echo")
        cells.append(
            f"<td>{html.escape(label, quote=False)}</td><td align='right'>"
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


class PreviewPane(QGroupBox):
    """The rendered messages and the estimate; ``changed`` fires when another test
    case is chosen. ``pending`` is true while a render runs."""

    changed = Signal()

    def __init__(
        self,
        profiles: Callable[[], Mapping[str, ProviderProfile]],
        default_models: Callable[[], list[str]],
    ) -> None:
        super().__init__("Preview")
        self.profiles = profiles
        self.default_models = default_models
        self._generation = 0
        self.pending = False
        """A preview render is running (off the GUI thread); its answer replaces the text."""
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Test case"))
        self.case_combo = QComboBox()
        self.case_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.case_combo.currentIndexChanged.connect(self.changed)
        row.addWidget(self.case_combo, 1)
        layout.addLayout(row)
        self.text = QPlainTextEdit()
        self.text.setObjectName("previewText")
        self.text.setReadOnly(True)
        self.text.setFont(monospace_font())
        layout.addWidget(self.text, 1)
        self.estimate = QLabel()
        self.estimate.setObjectName("estimateLabel")
        self.estimate.setWordWrap(True)
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.estimate)

    def load_cases(self, cases: list[TestCase]) -> None:
        """Offer ``cases``, keeping the chosen one by name (a real case renders more
        than the defaults usually can, so the first case is the fallback)."""
        current = self.case_combo.currentText()
        self.case_combo.blockSignals(True)
        self.case_combo.clear()
        self.case_combo.addItem(DEFAULTS_ONLY, None)
        for case in cases:
            self.case_combo.addItem(case.name or "(unnamed)", case)
        index = self.case_combo.findText(current) if current != DEFAULTS_ONLY else -1
        if index < 0:
            index = 1 if self.case_combo.count() > 1 else 0
        self.case_combo.setCurrentIndex(index)
        self.case_combo.blockSignals(False)

    def selected_case(self) -> TestCase:
        case = self.case_combo.currentData()
        return case if isinstance(case, TestCase) else TestCase(name="defaults")

    def show_content(self, content: PromptContent | None) -> None:
        """Render ``content`` with the chosen case; None: the templates have errors."""
        if content is None:
            self._generation += 1  # a render still running is no longer wanted
            self.pending = False
            self.text.setPlainText("(fix the problems marked in the messages to see a preview)")
            self.estimate.setText("")
            return
        case = self.selected_case()
        self._generation += 1
        generation = self._generation
        self.pending = True

        def done(rendered: list[RenderedMessage]) -> None:
            if generation != self._generation:
                return  # an older edit's render: a newer one is on its way
            self.pending = False
            self.text.setPlainText("\n\n".join(f"── {m.role} ──\n{m.content}" for m in rendered))
            capped = content.model.max_tokens
            tokens_in, tokens_out = call_tokens_estimate((m.content for m in rendered), capped)
            self.estimate.setText(
                estimate_html(tokens_in, tokens_out, capped, self.profiles(), self.default_models())
            )

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self.pending = False
            if not isinstance(exc, RenderError | TemplateError):
                raise exc  # a bug: the app's excepthook shows it
            self.text.setPlainText(
                f"Cannot render with this test case:\n{exc.message}\n\n{exc.hint}"
            )
            self.estimate.setText("")

        from workbench.app.sources import stand_ins

        # A variable bound to a data source shows as [source.field]: nothing is read here.
        values = {**case.values, **stand_ins(content)}
        run_in_thread(lambda: render_messages(content, values), done, failed, owner=self.text)
