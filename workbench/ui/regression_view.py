"""The Review panel's regression box: run the selected version against a label's
version on the prompt's cases and see, per case, what was fixed and what regressed.

The comparison is :mod:`workbench.app.regression` (``workbench eval --against`` prints
the same); the run goes through a :class:`RunController` of its own (the engine
process, kept warm once started, or an injected engine in tests), so the Compare tab's
grid never shows it, and it is under the same budgets' pre-flight as a compare.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.app.regression import (
    Change,
    RegressionPlan,
    RegressionReport,
    Side,
    plan_regression,
    regression_report,
    regression_spec,
)
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.runs import ModelRef, Run, RunSpec
from workbench.ui.engine_launch import EngineProcess
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import run_in_thread
from workbench.ui.worker import RunController
from workbench.vault import Vault
from workbench.vault.runs import RunStore

CHANGE_TEXT: dict[Change, str] = {
    "regressed": "REGRESSED",
    "fixed": "fixed",
    "still_failing": "still failing",
    "still_passing": "still passing",
}
CHANGE_COLOUR = {"regressed": "#c0392b", "fixed": "#1e8449"}


def _side(side: Side) -> str:
    if side.passed:
        return "pass"
    return "FAIL" if side.judged else "not judged"


def report_html(report: RegressionReport, baseline: str) -> str:
    """The per-case changes as a table, regressions first, each with its answers' diff."""
    counts = ", ".join(f"{report.count(c)} {t.lower()}" for c, t in CHANGE_TEXT.items())
    verdict = {
        "regressed": f"<b style='color:#c0392b'>Regressed</b> against {html.escape(baseline)}",
        "could_not_judge": "<b>Could not judge</b>: a case that passed got no judged result",
        "ok": f"<b>No regression</b> against {html.escape(baseline)}",
    }[report.verdict]
    rows = []
    for c in report.changes:
        colour = CHANGE_COLOUR.get(c.change)
        change = html.escape(CHANGE_TEXT[c.change])
        if colour:
            change = f"<span style='color:{colour}'>{change}</span>"
        rows.append(
            f"<tr><td>{html.escape(c.case)}</td><td>{html.escape(c.model)}</td>"
            f"<td>{_side(c.baseline)}</td><td>{_side(c.candidate)}</td><td>{change}</td></tr>"
        )
    details = []
    for c in report.regressed:
        diff = "\n".join(c.diff) or "(the same answer)"
        details.append(
            f"<p><b>{html.escape(c.case)} · {html.escape(c.model)}</b>: "
            f"{html.escape(c.candidate.why)}</p><pre>{html.escape(diff)}</pre>"
        )
    return (
        f"<p>{verdict}: {html.escape(report.candidate)} on "
        f"{html.escape(', '.join(report.models))}; {counts}.</p>"
        "<table cellspacing='0' cellpadding='3'><tr><th align='left'>Case</th>"
        "<th align='left'>Model</th><th align='left'>Before</th><th align='left'>After</th>"
        f"<th align='left'>Change</th></tr>{''.join(rows)}</table>{''.join(details)}"
    )


class RegressionBox(QWidget):
    """Against [production] Models [..] [Run regression], then the report."""

    def __init__(
        self,
        vault: Vault,
        reporter: ErrorReporter,
        controller: RunController,
        default_models: Callable[[], list[str]],
        *,
        preflight: Callable[[RunSpec], tuple[RunSpec, Any]] | None = None,
        concurrency: Callable[[], int] = lambda: 8,
    ) -> None:
        super().__init__()
        self.vault = vault
        self.reporter = reporter
        self.controller = controller
        self.default_models = default_models
        self.preflight = preflight
        self.concurrency = concurrency
        self.engine_process: EngineProcess | None = None
        """Set by the app: the engine process this box starts at its first run."""
        self.version: PromptVersion | None = None
        self.plan: RegressionPlan | None = None
        self.report: RegressionReport | None = None
        self.threads: list[threading.Thread] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        against_label = QLabel("Against:")
        self.against = QLineEdit("production")
        self.against.setObjectName("regressionAgainst")
        self.against.setToolTip(
            "A label as of the last sync (production), or a version: vN, draftN"
        )
        against_label.setBuddy(self.against)
        models_label = QLabel("Models:")
        self.models = QLineEdit()
        self.models.setObjectName("regressionModels")
        self.models.setPlaceholderText("PROFILE:MODEL, comma-separated (default: the settings')")
        models_label.setBuddy(self.models)
        self.run_button = QPushButton("Run regression")
        self.run_button.setToolTip(
            "Run this version and the baseline's on the prompt's test cases and the models; "
            "see which cases were fixed and which regressed"
        )
        self.run_button.clicked.connect(self.run)
        row.addWidget(against_label)
        row.addWidget(self.against, 1)
        row.addWidget(models_label)
        row.addWidget(self.models, 2)
        row.addWidget(self.run_button)
        layout.addLayout(row)
        self.result = QTextBrowser()
        self.result.setObjectName("regressionReport")
        self.result.setMaximumHeight(180)
        self.result.hide()
        layout.addWidget(self.result)
        controller.finished.connect(self._finished)
        controller.failed.connect(self._failed)
        self.set_version(None)

    def set_version(self, version: PromptVersion | None) -> None:
        """The version the next run is for; a report of another version is put away."""
        if self.version is not None and version is not None and version.id == self.version.id:
            return
        self.version = version
        self.run_button.setEnabled(version is not None and not self.controller.running)
        if not self.controller.running:
            self.result.hide()
            self.result.clear()
            self.report = None

    def _models(self) -> tuple[ModelRef, ...]:
        typed = [m.strip() for m in self.models.text().split(",") if m.strip()]
        try:
            return tuple(ModelRef.parse(m) for m in typed or self.default_models())
        except ValueError as exc:
            raise UsageError(str(exc), hint="e.g. openai:gpt-4o-mini, echo:echo") from exc

    def run(self) -> None:
        version = self.version
        if version is None or self.controller.running:
            return
        against = self.against.text().strip() or "production"
        try:
            plan = plan_regression(self.vault, version.prompt, against, str(version.id))
            if plan.same:
                self._say(
                    f"{html.escape(version.display_number)} is {html.escape(against)}'s "
                    "version: nothing to compare."
                )
                return
            spec = regression_spec(self.vault, plan, self._models(), concurrency=self.concurrency())
            if self.preflight is not None:
                spec, _estimate = self.preflight(spec)
        except WorkbenchError as exc:
            self.reporter.report(exc, "run the regression")
            return
        self.plan, self.report = plan, None
        if self.engine_process is not None:
            self.controller.use_process(self.engine_process)
            self.engine_process = None  # kept warm from now on
        self.run_button.setEnabled(False)
        self._say(
            f"Running {html.escape(plan.candidate.display_number)} and "
            f"{html.escape(plan.baseline.display_number)} ({html.escape(against)}): "
            f"{spec.total_cells} calls…"
        )
        self.controller.start(spec)

    def _say(self, text: str) -> None:
        self.result.setHtml(f"<p>{text}</p>")
        self.result.show()

    def _finished(self, run: Run) -> None:
        plan = self.plan
        if plan is None:
            return
        vault = self.vault

        def compare() -> RegressionReport:  # the run's cells, read off the GUI thread
            return regression_report(RunStore(vault).load(run.id), plan)

        def done(report: RegressionReport) -> None:
            self.report = report
            baseline = plan.baseline.display_number
            if plan.from_label:
                baseline = f"{plan.against} ({baseline})"
            self.result.setHtml(report_html(report, baseline))
            self.result.show()
            self.run_button.setEnabled(self.version is not None)

        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(run_in_thread(compare, done, self._failed))

    def _failed(self, exc: BaseException) -> None:
        self.run_button.setEnabled(self.version is not None)
        if not isinstance(exc, WorkbenchError):
            raise exc
        self.result.hide()
        self.reporter.report(exc, "run the regression")

    def wait_threads(self, timeout: float = 15.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
