"""The window's File → Import and Export of bundles, the sample prompts, and the
status bar's progress while the vault is written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
)

from workbench.assets import resource
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.files import write_atomic
from workbench.ui.ops import run_in_thread
from workbench.ui.window_base import WindowBase
from workbench.vault import ImportReport
from workbench.vault.bundle import Bundle

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

    def _show_progress(self) -> None:
        """The status bar's busy bar: shown while a bundle is read or the vault written."""
        what = self._reading or self.writer.busy
        self.write_progress.setVisible(bool(what))
        self.write_progress.setFormat(what[:1].upper() + what[1:] + "…" if what else "")
        self.write_progress.setToolTip(
            f"{what[:1].upper() + what[1:]}: the window stays usable; a commit made now "
            "is written when this is done."
            if what
            else ""
        )

    def import_bundle(self, path: Path | None = None) -> None:
        """Add a JSON bundle's prompts, versions and test cases, off the GUI thread: the
        file is read and checked on a thread, then written by the vault writer."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import bundle", "", "Prompt Workbench bundle (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        source = path

        def read() -> Bundle:
            from workbench.vault.bundle import parse_bundle

            return parse_bundle(source.read_bytes(), str(source))

        def write(bundle: Bundle) -> None:
            self._reading = ""
            self.writer.submit(
                f"importing {source.name}", lambda: self.vault.import_bundle(bundle), done, failed
            )
            self._show_progress()  # it may wait behind a sync round: still shown

        def done(report: ImportReport) -> None:
            self.browser.reload()
            self.statusBar().showMessage(
                f"Imported {report.versions_added} versions "
                f"({report.prompts_created} new prompts) from {source.name}",
                10_000,
            )
            self.bundle_imported.emit(report)

        def failed(exc: BaseException) -> None:
            self._reading = ""
            self._show_progress()
            if isinstance(exc, (WorkbenchError, OSError)):
                self.reporter.report(exc, "import the bundle")
            else:
                raise exc  # a bug: sys.excepthook shows the crash dialog

        self._reading = f"reading {source.name}"
        self._show_progress()
        run_in_thread(read, write, failed)

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
