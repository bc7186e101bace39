"""The window's File → Import and Export of bundles, the sample prompts, and the
status bar's progress while the vault is written."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
)

from workbench.app.import_child import ImportCancelled, ImportProcess, StageEvent
from workbench.assets import resource
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.files import write_atomic
from workbench.ui.window_base import WindowBase
from workbench.vault import ImportReport

SAMPLE_BUNDLE = resource("sample-bundle.json")  # checkout, wheel or frozen build


class WindowTransfer(WindowBase):
    """Bundles in and out of the vault; the write progress in the status bar."""

    @Slot(str)
    def _writer_busy(self, what: str) -> None:
        if what:
            self.statusBar().showMessage(f"Writing to the vault: {what}… (the window stays usable)")
        elif self.statusBar().currentMessage().startswith("Writing to the vault"):
            self.statusBar().clearMessage()  # not a message shown since (e.g. "Imported")
        self._show_progress()

    @Slot(object)
    def _on_import_stage(self, stage: StageEvent) -> None:
        """A step of the running import starts (from its child process)."""
        self._import_stage = stage
        what = self.writer.busy
        if what.startswith("importing"):
            self.statusBar().showMessage(
                f"Writing to the vault: {what}: {stage.describe()}… (the window stays usable)"
            )
        self._show_progress()

    def _show_progress(self) -> None:
        """The status bar's busy bar: shown while the vault is written, with the
        import's step and how many writes (a commit) wait behind it."""
        what = self.writer.busy
        self.write_progress.setVisible(bool(what))
        if not what:
            self.write_progress.setFormat("")
            self.write_progress.setToolTip("")
            return
        what = what[:1].upper() + what[1:]
        stage, waiting = self._import_stage, self.writer.waiting
        step = f" ({stage.step}/{stage.steps})" if stage and what.startswith("Importing") else ""
        queued = f" · {waiting} waiting" if waiting else ""
        self.write_progress.setFormat(f"{what}{step}…{queued}")
        detail = f" ({stage.describe()})" if step and stage else ""
        after = (
            f"{waiting} write(s) wait for it (a commit is written when this is done)."
            if waiting
            else "A commit made now is written when this is done."
        )
        self.write_progress.setToolTip(f"{what}{detail}: the window stays usable. {after}")

    def import_bundle(self, path: Path | None = None) -> None:
        """Add a JSON bundle's prompts, versions and test cases in a child process (the
        window stays responsive), in the vault writer's turn: writes asked for meanwhile
        (a commit) wait for it; closing the window ends it and nothing is imported."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import bundle", "", "Prompt Workbench bundle (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        source = path
        child = ImportProcess(self.vault.path, source, self.vault.actor)

        def stage(event: StageEvent) -> None:  # on the writer's thread
            with contextlib.suppress(RuntimeError):  # the window is gone: nobody to tell
                self.import_stage.emit(event)

        def done(report: ImportReport) -> None:
            self._import_stage = None
            self.browser.reload()
            self.statusBar().showMessage(
                f"Imported {report.versions_added} versions "
                f"({report.prompts_created} new prompts) from {source.name}",
                10_000,
            )
            self.bundle_imported.emit(report)

        def failed(exc: BaseException) -> None:
            self._import_stage = None
            self._show_progress()
            if isinstance(exc, ImportCancelled):
                return  # the window closed: nothing was imported, nothing to say
            if isinstance(exc, (WorkbenchError, OSError)):
                self.reporter.report(exc, "import the bundle")
            else:
                raise exc  # a bug: sys.excepthook shows the crash dialog

        self.writer.submit(
            f"importing {source.name}", lambda: child.run(stage), done, failed, cancel=child.cancel
        )
        self._show_progress()  # it may wait behind a sync round: still shown

    def export_bundle(self, path: Path | None = None, names: list[str] | None = None) -> None:
        """Export the vault, or only the prompts ``names``, as a JSON bundle."""
        if path is None:
            suggested = (names[0].replace("/", "-") + ".json") if names else "prompts.json"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export bundle", suggested, "Prompt Workbench bundle (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        try:
            data = self.vault.export_bundle(names).model_dump_json(indent=1) + "\n"
            write_atomic(path, data)
        except (WorkbenchError, OSError) as exc:
            self.reporter.report(exc, "export the bundle")
            return
        what = ", ".join(names) if names else "the vault"
        self.statusBar().showMessage(f"Exported {what} to {path}", 10_000)

    def load_samples(self) -> None:
        """A few realistic prompts with versions and test cases, to try things out."""
        if not SAMPLE_BUNDLE.exists():
            self.reporter.report(
                UsageError(
                    "the sample prompts are not installed with this build",
                    hint="Import a bundle instead (File → Import bundle…).",
                ),
                "load the sample prompts",
            )
            return
        self.import_bundle(SAMPLE_BUNDLE)
