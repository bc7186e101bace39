"""Sync in the window: a background controller, the status-bar summary, the outbox.

:class:`SyncController` runs one sync round at a time off the GUI thread, on a timer
and on demand, and reports a :class:`SyncOutcome` on the GUI thread. Whatever the
registry does (answers, is unreachable, refuses the token), the round ends with the
vault's own view: per-prompt statuses and the outbox, so badges are right offline too.
Nothing a round does can lose local work: unpushed versions and queued decisions stay
in the vault until the registry has them.

:class:`SyncPanel` is the "Sync" tab: the connection state in words, the last round's
summary and the outbox, where decisions refused by the registry stay visible with the
server's reason until the person dismisses them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.app.connection import RegistryConnection as RegistryConnection
from workbench.core.errors import WorkbenchError
from workbench.core.models import utcnow
from workbench.registry.errors import AuthenticationError, RegistryUnavailableError
from workbench.registry.outbox import QueuedDecision, QueuedReview, queued_decision
from workbench.registry.schemas import WhoAmI
from workbench.registry.sync import Syncer, SyncReport
from workbench.secrets.redaction import redact
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import VaultWriter
from workbench.vault import Vault
from workbench.vault.sync_store import OutboxEntry, SyncStatus, SyncStore

DEFAULT_INTERVAL_S = 60
SyncState = Literal["synced", "offline", "unauthorized", "failed", "not_configured"]

BADGES: dict[str, str] = {
    "synced": "✓ synced",
    "ahead": "↑ ahead",
    "forked": "⑂ forked",
    "local": "local",
}
"""Tree badge per sync status: synced; ahead (versions or decisions to push);
forked (two versions share a parent); local (never pushed)."""


@dataclass(frozen=True)
class SyncOutcome:
    """What one round found. ``error`` explains a state other than "synced"."""

    state: SyncState
    statuses: dict[str, SyncStatus]
    outbox: list[OutboxEntry]
    report: SyncReport | None = None
    me: WhoAmI | None = None
    error: WorkbenchError | None = None
    at: datetime = field(default_factory=utcnow)
    manual: bool = False

    @property
    def rejected(self) -> list[OutboxEntry]:
        return [e for e in self.outbox if e.status == "rejected"]

    @property
    def pending(self) -> list[OutboxEntry]:
        return [e for e in self.outbox if e.status == "pending"]

    def summary(self) -> str:
        """One line for the status bar."""
        counts = Counter(self.statuses.values())
        to_push = counts["ahead"] + counts["local"]
        if self.state == "offline":
            text = "⚠ Offline: registry unreachable; work goes on"
            waiting = to_push + len(self.pending)
            if waiting:
                text += f" ({waiting} waiting to sync)"
        elif self.state == "unauthorized":
            text = "✘ Token refused: log in again in Settings (nothing lost)"
        elif self.state == "failed":
            text = "✘ Sync failed (nothing lost)"
        elif self.state == "not_configured":
            text = "No registry"
        else:
            parts = [
                f"{counts[s]} {s}" for s in ("synced", "ahead", "forked", "local") if counts[s]
            ]
            text = "Synced " + f"{self.at.astimezone():%H:%M}"
            if parts:
                text += " · " + " · ".join(parts)
        if self.rejected:
            text += f" · {len(self.rejected)} refused"
        return text


def sync_round(vault: Vault, connection: RegistryConnection, want_me: bool) -> SyncOutcome:
    """One blocking round: push, send the outbox, pull; then read the vault's state.

    Runs on a worker thread. Expected failures become the outcome's state; the vault
    is read afterwards in every case so the window shows the truth offline too."""
    report: SyncReport | None = None
    me: WhoAmI | None = None
    error: WorkbenchError | None = None
    state: SyncState = "synced"
    if not connection.configured:
        state = "not_configured"
    else:
        try:
            with connection.open() as client:
                report = Syncer(vault, client).sync()
                if want_me:
                    me = client.whoami()
                    # The registry login is who commits in this vault from now on.
                    SyncStore(vault).set_registry_user(me.name)
        except RegistryUnavailableError as exc:
            state, error = "offline", exc
        except AuthenticationError as exc:
            state, error = "unauthorized", exc
        except WorkbenchError as exc:
            state, error = "failed", exc
    store = SyncStore(vault)
    return SyncOutcome(state, store.statuses(), store.outbox(), report, me, error)


class SyncController(QObject):
    """One round at a time, off the GUI thread; a timer asks for rounds regularly.

    Rounds go through the window's vault writer (:meth:`VaultWriter.beside`): a round
    asked for during an import starts when the import is done (instead of waiting on
    SQLite's lock past the busy timeout and failing), and an import asked for during a
    round waits for it; commits go through meanwhile.

    ``finished`` carries a :class:`SyncOutcome` on the GUI thread. A request while a
    round runs (or waits its turn) is remembered and runs right after it, so "Sync
    now" is never lost."""

    started = Signal()
    finished = Signal(object)  # SyncOutcome

    def __init__(
        self,
        vault: Vault,
        connection: Callable[[], RegistryConnection],
        interval_s: int = DEFAULT_INTERVAL_S,
        parent: QObject | None = None,
        *,
        writer: VaultWriter,
    ) -> None:
        super().__init__(parent)
        self.vault = vault
        self.writer = writer
        self._connection = connection
        self._round = False  # a round runs or waits its turn in the writer
        self._again: bool | None = None  # a queued request (its "manual" flag)
        self._closed = False
        self.me: WhoAmI | None = None
        self._identity_epoch = 0  # bumped by reset_identity: older rounds' whoami is stale
        self.last: SyncOutcome | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(lambda: self.sync_now(manual=False))
        self.set_interval(interval_s)

    @property
    def running(self) -> bool:
        """A round runs, or waits in the vault writer for an import to end."""
        return self._round

    def set_interval(self, seconds: int) -> None:
        """Sync every ``seconds``; 0 turns the timer off (sync only on demand)."""
        self.timer.stop()
        if seconds > 0:
            self.timer.start(seconds * 1000)

    def reset_identity(self) -> None:
        """Forget who we are (the URL or token changed); the next round asks again, and
        a round already under way (with the old token) does not bring the old answer back."""
        self.me = None
        self._identity_epoch += 1

    def sync_now(self, manual: bool = True) -> None:
        if self._closed:
            return
        if self._round:
            self._again = manual or bool(self._again)
            return
        connection = self._connection()
        if not connection.configured and not manual:
            return  # nothing to talk to; the timer stays quiet
        vault, want_me, epoch = self.vault, self.me is None, self._identity_epoch
        self._round = True
        self.started.emit()
        self.writer.beside(
            "syncing with the registry",
            lambda: sync_round(vault, connection, want_me),
            lambda outcome: self._done(outcome, manual, epoch),
            lambda exc: self._crashed(exc, manual),
        )

    def _done(self, outcome: SyncOutcome, manual: bool, epoch: int) -> None:
        self._round = False
        if self._closed:
            return
        if outcome.me is not None and epoch == self._identity_epoch:
            self.me = outcome.me
        outcome = SyncOutcome(
            outcome.state, outcome.statuses, outcome.outbox, outcome.report,
            self.me, outcome.error, outcome.at, manual,
        )  # fmt: skip
        self.last = outcome
        self.finished.emit(outcome)
        again, self._again = self._again, None
        if again is not None:
            self.sync_now(manual=again)

    def _crashed(self, exc: BaseException, manual: bool) -> None:
        self._round = False
        if self._closed:
            return
        self._again = None
        raise exc  # a bug: sys.excepthook shows the crash dialog

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop the timer and wait for a running round (the vault must outlive it)."""
        self._closed = True
        self.timer.stop()
        self.writer.join_beside(timeout)


class SyncPanel(QWidget):
    """The "Sync" tab: state, last round, and the outbox with refused entries."""

    sync_requested = Signal()
    dismissed = Signal()

    def __init__(self, vault: Vault, reporter: ErrorReporter, writer: VaultWriter) -> None:
        super().__init__()
        self.vault = vault
        self.reporter = reporter
        self.writer = writer
        """Dismissing goes through the window's vault writer (after an import, if one runs)."""
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.state_label = QLabel("Not synced yet.")
        self.state_label.setObjectName("syncState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setToolTip("Push local versions and decisions, pull the team's (F5)")
        self.sync_button.clicked.connect(self.sync_requested)
        top.addWidget(self.state_label, 1)
        top.addWidget(self.sync_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        self.report_label = QLabel()
        self.report_label.setObjectName("dimLabel")
        self.report_label.setWordWrap(True)
        layout.addWidget(self.report_label)
        self.forks_label = QLabel()
        self.forks_label.setWordWrap(True)
        self.forks_label.hide()
        layout.addWidget(self.forks_label)
        heading = QLabel("<b>Outbox</b>: decisions waiting to reach the registry, and refusals")
        layout.addWidget(heading)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("outboxTable")
        self.table.setHorizontalHeaderLabels(["Prompt", "Decision", "Comment", "State", "Reason"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        self.empty_label = QLabel("Nothing waiting.")
        self.empty_label.setObjectName("dimLabel")
        self.dismiss_button = QPushButton("Dismiss refused")
        self.dismiss_button.setToolTip("Remove the selected refused entry from the outbox")
        self.dismiss_button.setEnabled(False)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        bar.addWidget(self.empty_label, 1)
        bar.addWidget(self.dismiss_button)
        layout.addLayout(bar)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.entries: list[OutboxEntry] = []

    def show_outcome(self, outcome: SyncOutcome) -> None:
        when = f"{outcome.at.astimezone():%H:%M:%S}"
        if outcome.state == "synced":
            who = f" as {outcome.me.name} ({outcome.me.role})" if outcome.me else ""
            self.state_label.setText(f"✓ Connected{who}; last sync at {when}.")
        elif outcome.state == "not_configured":
            self.state_label.setText(
                "No team registry is configured. Enter its URL and your token in "
                "Settings → Registry; until then everything stays in this vault."
            )
        else:
            err = outcome.error
            what = redact(err.message) if err else "the sync failed"
            hint = redact(err.hint) if err and err.hint else ""
            prefix = {
                "offline": "⚠ Offline at",
                "unauthorized": "✘ The registry refused the token at",
            }.get(outcome.state, "✘ Sync failed at")
            self.state_label.setText(
                f"{prefix} {when}: {what}. {hint} Nothing was lost: local versions and "
                "decisions wait in this vault and go out with the next sync."
            )
        report = outcome.report
        self.report_label.setText(report.summary().splitlines()[0] if report else "")
        forked = sorted(n for n, s in outcome.statuses.items() if s == "forked")
        self.forks_label.setVisible(bool(forked))
        self.forks_label.setText(
            "⑂ Forked (two versions share a parent; open History and continue from either "
            "head): " + ", ".join(forked)
        )
        self.show_outbox(outcome.outbox)

    def reload_outbox(self) -> None:
        self.show_outbox(SyncStore(self.vault).outbox())

    def show_outbox(self, entries: list[OutboxEntry]) -> None:
        self.entries = list(entries)
        self.table.setRowCount(len(self.entries))
        numbers: dict[str, str] = {}
        for row, entry in enumerate(self.entries):
            queued = queued_decision(entry.kind, entry.payload)
            what = self._describe(queued, numbers)
            refused = entry.status == "rejected"
            cells = [
                entry.prompt,
                what,
                queued.note,
                "refused" if refused else "pending: sent with the next sync",
                redact(entry.error or ""),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if refused and col in (3, 4):
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        self.empty_label.setText(
            "Nothing waiting." if not self.entries else f"{len(self.entries)} in the outbox"
        )
        self._on_selection()

    def _describe(self, queued: QueuedDecision, cache: dict[str, str]) -> str:
        if isinstance(queued, QueuedReview):
            return f"{queued.describe()} {self._number(str(queued.version_id), cache)}"
        return f"move {queued.label} → {self._number(str(queued.target.version_id), cache)}"

    def _number(self, version_id: str, cache: dict[str, str]) -> str:
        if version_id not in cache:
            import uuid

            try:
                cache[version_id] = self.vault.version_by_id(uuid.UUID(version_id)).display_number
            except (WorkbenchError, ValueError):
                cache[version_id] = version_id[:8]
        return cache[version_id]

    def selected_entry(self) -> OutboxEntry | None:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return self.entries[min(rows)] if rows else None

    @Slot()
    def _on_selection(self) -> None:
        entry = self.selected_entry()
        self.dismiss_button.setEnabled(entry is not None and entry.status == "rejected")

    @Slot()
    def dismiss_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.status != "rejected":
            return
        vault, seq = self.vault, entry.seq

        def done(_result: object) -> None:
            self.reload_outbox()
            self.dismissed.emit()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "dismiss the entry")

        self.dismiss_button.setEnabled(False)  # until the outbox is read again
        self.writer.write(
            "dismissing a refused decision", lambda: SyncStore(vault).dismiss(seq), done, failed
        )
