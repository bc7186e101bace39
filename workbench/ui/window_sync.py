"""The window's side of the team registry: sync rounds and their outcome in the
tree's badges, the status bar, the Sync and Review tabs; publishing a label.

Sync runs in the background (:class:`~workbench.ui.sync_panel.SyncController`)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QWidget,
)

from workbench.core.errors import UsageError, WorkbenchError
from workbench.ui.sync_panel import (
    BADGES,
    RegistryConnection,
    SyncOutcome,
)
from workbench.ui.window_base import WindowBase


class WindowSync(WindowBase):
    """Sync, review and publish."""

    def registry_connection(self) -> RegistryConnection:
        return RegistryConnection(self.settings.registry_url, self.secrets, front_end="app")

    def sync_now(self) -> None:
        """On demand (menu, F5, status-bar button): a round off the GUI thread."""
        self.sync.sync_now(manual=True)

    @Slot()
    def _on_sync_started(self) -> None:
        self.sync_badge.setText("⟳ Syncing…")

    @Slot(object)
    def _on_synced(self, outcome: SyncOutcome) -> None:
        before = {e.seq for e in (self._last_outcome.rejected if self._last_outcome else [])}
        report = outcome.report
        if report is not None and report.vault_changed:
            # Pulled versions may bring prompts; pushes number drafts (v3, not "draft 3");
            # labels may have moved: what the tree and History show changed.
            self.browser.reload()
            if self.history.prompt:
                self.history.reload()
        self._show_sync(outcome)
        fresh = [e for e in outcome.rejected if e.seq not in before]
        if fresh:
            self.statusBar().showMessage(
                f"The registry refused {len(fresh)} decision(s): see the Sync tab for why", 10000
            )
        if outcome.manual and outcome.error is not None:
            if outcome.state == "offline":
                self.statusBar().showMessage(
                    "Offline: the registry is unreachable; your work is kept and syncs later",
                    8000,
                )
            else:
                self.reporter.report(outcome.error, "sync with the registry")

    def _show_sync(self, outcome: SyncOutcome) -> None:
        self._last_outcome = outcome
        configured = outcome.state != "not_configured"
        for name in self.browser.model.names():
            status = outcome.statuses.get(name)
            self.browser.model.set_sync_badge(
                name, BADGES.get(status or "") if configured else None
            )
        self.sync_badge.setText(outcome.summary() if configured else "")
        tip = outcome.error.describe() if outcome.error is not None else ""
        self.sync_badge.setToolTip(tip or "Per-prompt state is shown beside each prompt")
        self.sync_panel.show_outcome(outcome)
        self.review.set_role(outcome.me.role if outcome.me else None)
        self.review.reload()

    def refresh_sync_state(self) -> None:
        """Re-read statuses and the outbox from the vault (no network): after a commit,
        a dismissal or a queued decision, so badges do not wait for the next round."""
        from workbench.vault.sync_store import SyncStore

        last = self._last_outcome
        store = SyncStore(self.vault)
        try:
            outcome = SyncOutcome(
                last.state if last else "synced",
                store.statuses(),
                store.outbox(),
                last.report if last else None,
                self.sync.me,
                last.error if last else None,
                last.at if last else datetime.now(UTC),
            )
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the sync state")
            return
        self._show_sync(outcome)

    def _after_decision(self) -> None:
        self.refresh_sync_state()
        self.sync.sync_now(manual=False)

    def open_publish(self, prompt: str | None = None) -> QWidget | None:
        """The publish dialog for ``prompt`` (default: the selected one); non-blocking."""
        from workbench.ui.publish import PublishDialog

        name = prompt or self.browser.current_prompt() or self.editor.prompt
        connection = self.registry_connection()
        try:
            if name is None:
                raise UsageError("no prompt selected", hint="Select a prompt on the left first.")
            connection.require_url()
            dialog = PublishDialog(self.vault, name, connection, self.reporter, self)
        except WorkbenchError as exc:
            self.reporter.report(exc, "publish")
            return None
        dialog.published.connect(self._on_published)
        self.publish_dialog = dialog
        dialog.open()
        return dialog

    @Slot(object)
    def _on_published(self, state: object) -> None:
        from workbench.registry.schemas import LabelState

        if isinstance(state, LabelState):
            self.statusBar().showMessage(
                f"Published: {state.prompt}@{state.name} moved by {state.updated_by}", 8000
            )
        self.sync.sync_now(manual=False)
