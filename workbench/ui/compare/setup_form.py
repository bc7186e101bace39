"""The run setup above the Compare grid: which versions, models and test cases to
run (ticked in three lists, a model added by name), repeats and the cache, and the
Run and Cancel buttons. :meth:`RunSetupForm.build_spec` turns the ticks into a
:class:`~workbench.core.runs.RunSpec`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import UsageError
from workbench.core.models import PromptVersion
from workbench.core.runs import ModelRef, RunSpec, TestCase, cases_or_defaults
from workbench.ui.compare.checklist import add_check, check_exactly, checked, checklist
from workbench.ui.errors import ErrorReporter


class RunSetupForm(QFrame):
    """The pickers and the run buttons; the panel wires Run, Cancel and the estimate."""

    model_added = Signal()
    """A model typed into the Add field was ticked (a choice to remember)."""

    def __init__(self, reporter: ErrorReporter) -> None:
        super().__init__()
        self.reporter = reporter
        self.setObjectName("setupFrame")
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        vbox, self.versions_list = checklist("Versions")
        # A version reads by its number and the start of its message ("v3 Answers in
        # the cus…"); the middle of a sentence cut out is no help.
        self.versions_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.refresh_models_button = QPushButton("Refresh models")
        self.refresh_models_button.setToolTip("Ask each provider's server for its models again")
        mbox, self.models_list = checklist("Models", self.refresh_models_button)
        cbox, self.cases_list = checklist("Test cases")
        add_box = QWidget()  # a widget, not a bare layout: its children get a parent
        add_row = QHBoxLayout(add_box)
        add_row.setContentsMargins(0, 0, 0, 0)
        self.model_entry = QLineEdit()
        self.model_entry.setPlaceholderText("profile:model")
        self.model_entry.setToolTip("Add a model by name, e.g. local:gpt-4o-mini, then Enter")
        self.add_model_button = QPushButton("Add")
        self.add_model_button.clicked.connect(self._add_model)
        self.model_entry.returnPressed.connect(self._add_model)
        # Room for a typical name: the field never shrinks to a few letters.
        self.model_entry.setMinimumWidth(
            self.model_entry.fontMetrics().horizontalAdvance("profile:model-name-1") + 16
        )
        add_row.addWidget(self.model_entry, 1)
        add_row.addWidget(self.add_model_button)
        mbox.layout().addWidget(add_box)  # type: ignore[union-attr]
        grid.addWidget(vbox, 0, 0)
        grid.addWidget(mbox, 0, 1)
        grid.addWidget(cbox, 0, 2)
        side = QVBoxLayout()
        side.setSpacing(6)
        rep = QHBoxLayout()
        rep.addWidget(QLabel("Repeats"))
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 100)
        self.repeats.setToolTip("Run each cell several times: charts then show p50 and p95")
        rep.addWidget(self.repeats)
        side.addLayout(rep)
        self.use_cache = QCheckBox("Reuse cached answers")
        side.addWidget(self.use_cache)
        self.run_button = QPushButton("Run comparison")
        self.run_button.setObjectName("primaryButton")
        self.run_button.setToolTip("Run every chosen version x model x test case (Ctrl+R)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the running comparison (Ctrl+.); off while none runs")
        side.addWidget(self.run_button)
        side.addWidget(self.cancel_button)
        side.addStretch(1)
        grid.addLayout(side, 0, 3)
        # Models get the most room: their ids are the longest names here, and the
        # ones a person must tell apart ("…-sonnet-20241022" from "…-haiku-latest").
        for c, s in enumerate((3, 4, 2, 2)):
            grid.setColumnStretch(c, s)

    def set_running(self, running: bool) -> None:
        """Run is off while a run goes, Cancel only then."""
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def options(self) -> dict[str, object]:
        """Repeats and the cache, as remembered between sessions."""
        return {"repeats": self.repeats.value(), "use_cache": self.use_cache.isChecked()}

    def recall(self, options: Mapping[str, object]) -> None:
        """Set the repeats and cache remembered (see :meth:`options`)."""
        repeats = options.get("repeats")
        if isinstance(repeats, int):
            self.repeats.setValue(repeats)
        self.use_cache.setChecked(bool(options.get("use_cache")))

    # ---- the lists -------------------------------------------------------------------

    def set_versions(
        self, versions: Sequence[PromptVersion], remembered: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """Offer ``versions`` newest first, ticking the remembered ones (none of them
        offered: the newest two); returns each version's label."""
        self.versions_list.blockSignals(True)
        self.versions_list.clear()
        labels: dict[uuid.UUID, str] = {}
        ticked = set(remembered) & {v.id for v in versions}
        for i, v in enumerate(reversed(versions)):
            labels[v.id] = v.display_number
            on = v.id in ticked if ticked else i < 2  # else the newest two
            add_check(self.versions_list, f"{v.display_number}  {v.message}", v.id, on,
                      f"{v.display_number} by {v.author}")  # fmt: skip
        self.versions_list.blockSignals(False)
        return labels

    def set_cases(self, cases: list[TestCase]) -> None:
        """Offer the prompt's test cases, all ticked (none: its variables' defaults)."""
        self.cases_list.blockSignals(True)
        self.cases_list.clear()
        if not cases:
            (defaults,) = cases_or_defaults(cases)
            add_check(self.cases_list, "defaults only (no test cases yet)", defaults, True)
        for case in cases:
            values = ", ".join(f"{k}={v}" for k, v in case.values.items())
            add_check(self.cases_list, case.name or "(unnamed)", case, True, values)
        self.cases_list.blockSignals(False)

    def set_models(self, offered: Iterable[str], fallback: Iterable[str]) -> None:
        """Offer ``offered`` models; the ticked ones stay ticked (none ticked yet: the
        ``fallback`` ones are), and stay on offer even when no profile lists them."""
        ticked = {str(m) for m in checked(self.models_list)} or set(fallback)
        self.models_list.blockSignals(True)
        self.models_list.clear()
        seen: list[str] = []
        for m in [*offered, *sorted(ticked)]:
            if m not in seen:
                seen.append(m)
        for m in seen:
            note = "  (echo: not a real model)" if m.startswith("echo:") else ""
            add_check(self.models_list, m + note, m, m in ticked)
        self.models_list.blockSignals(False)

    def ticked_models(self) -> list[str] | None:
        """The ticked models; None when none is on offer (no prompt shown yet)."""
        if not self.models_list.count():
            return None
        return [str(m) for m in checked(self.models_list)]

    def ticked_versions(self) -> list[object]:
        return checked(self.versions_list)

    @Slot()
    def _add_model(self) -> None:
        text = self.model_entry.text().strip()
        try:
            ModelRef.parse(text)
        except ValueError as exc:
            self.reporter.report(
                UsageError(str(exc), hint="Write it as profile:model."), "add the model"
            )
            return
        add_check(self.models_list, text, text, True)
        self.model_entry.clear()
        self.model_added.emit()

    def check_only(
        self, versions: list[uuid.UUID] | None = None, models: list[str] | None = None
    ) -> None:
        """Tick exactly these versions / models (for scripts and tests)."""
        for lst, wanted in ((self.versions_list, versions), (self.models_list, models)):
            if wanted is not None:
                check_exactly(lst, wanted)

    def build_spec(self, prompt: str | None, concurrency: int) -> RunSpec:
        """The ticked choices as a run of ``prompt``; refuses a run of nothing."""
        if prompt is None:
            raise UsageError("no prompt is selected", hint="Choose a prompt on the left first.")
        versions = [v for v in checked(self.versions_list) if isinstance(v, uuid.UUID)]
        models = [ModelRef.parse(str(m)) for m in checked(self.models_list)]
        cases = [c for c in checked(self.cases_list) if isinstance(c, TestCase)]
        if not versions:
            raise UsageError(
                "no version is ticked", hint="Tick at least one version (two to compare)."
            )
        if not models:
            raise UsageError(
                "no model is ticked", hint="Tick a model, or add one as profile:model."
            )
        if not cases:
            raise UsageError("no test case is ticked", hint="Tick at least one test case.")
        return RunSpec(
            prompt=prompt,
            version_ids=tuple(versions),
            models=tuple(models),
            cases=tuple(cases),
            repeats=self.repeats.value(),
            concurrency=concurrency,
            use_cache=self.use_cache.isChecked(),
        )
