"""Sync, review and publishing in the window, against a real registry under uvicorn.

Tokens live in a ``MemoryStore`` under the key the app would use in the keychain;
the real keychain is never touched. The timer is off (interval 0) so every round
is one the test asked for (or the one the window starts with) and can be awaited.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.gui.conftest import app_window
from tests.server.conftest import RunningRegistry, running_registry, serve_app
from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec
from workbench.engine.runner import ECHO_PROFILE
from workbench.registry.client import RegistryClient
from workbench.registry.review import queue_review
from workbench.registry.schemas import LabelTarget
from workbench.registry.server.app import create_app
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.sync import Syncer, token_key_name
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.main_window import MainWindow
from workbench.ui.publish import PublishDialog
from workbench.ui.settings_dialog import SettingsDialog
from workbench.ui.sync_panel import BADGES
from workbench.vault import Vault
from workbench.vault.runs import RunStore
from workbench.vault.sync_store import SyncStore


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")) as reg:
        yield reg


@pytest.fixture
def open_window(qtbot, tmp_path: Path, data_dir: Path):  # type: ignore[no-untyped-def]
    """Make a window for ``user`` on its own vault, logged in to ``url``; closes them all."""
    opened: list[tuple[MainWindow, Vault]] = []

    def make(user: str, url: str, token: str | None, vault: Vault | None = None) -> MainWindow:
        vault = vault or Vault.open(tmp_path / f"{user}.sqlite3", create=True, actor=user)
        store = MemoryStore()
        if token is not None:  # None: an empty keychain
            store.set(token_key_name(url), token)
        profiles = {"echo": ECHO_PROFILE}
        win = app_window(
            vault,
            Settings(registry_url=url),
            lambda: profiles,
            secrets=lambda: store,
            data_dir=data_dir / user,
            qsettings=QSettings(str(tmp_path / f"{user}.ini"), QSettings.Format.IniFormat),
            sync_interval_s=0,
        )
        qtbot.addWidget(win)
        win.show()
        opened.append((win, vault))
        # The window starts one round by itself when a registry is configured.
        qtbot.waitUntil(lambda: win.sync.last is not None, timeout=10_000)
        return win

    yield make
    for win, vault in opened:
        win.close()
        assert not win.sync.running
        vault.close()


def badge(win: MainWindow, name: str) -> str:
    index = win.browser.model.index_of(name)
    return str(index.siblingAtColumn(1).data() or "")


def sync(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Press F5 and wait for the round to end."""
    with qtbot.waitSignal(win.sync.finished, timeout=10_000):
        win.sync_action.trigger()


def author_pushes(tmp_path: Path, registry: RunningRegistry) -> tuple[PromptVersion, ...]:
    """alice commits v1 and v2 of support/reply in her own vault and syncs them."""
    with Vault.open(tmp_path / "alice-cli.sqlite3", create=True, actor="alice") as alice:
        v1 = alice.commit("support/reply", content("Hello {{ name }}"), "first")
        v2 = alice.commit("support/reply", content("Hi {{ name }}, how can I help?"), "friendlier")
        Syncer(alice, registry.client("alice")).sync()
        return alice.version_by_id(v1.id), alice.version_by_id(v2.id)


def test_sync_updates_badges_and_shows_forks(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    vault = Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice")
    root = vault.commit("p", content("root"), "root")
    vault.commit("billing/invoice", content("Invoice {{ n }}"), "first")
    win = open_window("alice", registry.url, registry.tokens["alice"], vault)
    # The startup round pushed both prompts.
    assert win.sync.last is not None and win.sync.last.state == "synced"
    assert badge(win, "p") == BADGES["synced"]
    assert badge(win, "billing/invoice") == BADGES["synced"]
    assert "2 synced" in win.sync_badge.text()

    # Offline work shows at once, before any round: a new prompt and a new version.
    vault.commit("drafts/new", content("new"), "new")
    win.browser.reload()
    win.refresh_sync_state()
    assert badge(win, "drafts/new") == BADGES["local"]
    # bob continues from the same parent as alice, and pushes first: a fork.
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, registry.client("bob")).sync()
        bob.commit("p", content("bob's idea"), "bob", parents=[root.id])
        Syncer(bob, registry.client("bob")).sync()
    mine = vault.commit("p", content("alice's idea"), "alice", parents=[root.id])
    win._on_committed(mine)
    assert badge(win, "p") == BADGES["ahead"]

    sync(qtbot, win)
    assert badge(win, "p") == BADGES["forked"]
    assert badge(win, "drafts/new") == BADGES["synced"]
    assert "forked" in win.sync_badge.text()
    assert win.sync_panel.forks_label.isVisibleTo(win.sync_panel)
    assert "p" in win.sync_panel.forks_label.text()
    # Both heads exist in the history; nothing was merged or overwritten.
    win.browser.select("p")
    heads = [v for v in win.history.model.versions if v.id in win.history.model.heads]
    assert len(heads) == 2
    assert "forked" in win.statusBar().currentMessage()
    # Continue from bob's head: the editor's next commit builds on it.
    bobs = next(v for v in heads if v.author == "bob")
    win.history.select_versions([win.history.model.versions.index(bobs)])
    win.continue_from()
    assert win.editor.base_id() == bobs.id
    assert win.tabs.currentWidget() is win.editor


def test_offline_indicator_work_goes_on_and_decisions_wait(
    qtbot, tmp_path: Path, open_window
) -> None:  # type: ignore[no-untyped-def]
    with running_registry(
        RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    ) as registry:
        v1, _v2 = author_pushes(tmp_path, registry)
        url, token = registry.url, registry.tokens["bob"]
        win = open_window("bob", url, token)
        assert win.sync.last is not None and win.sync.last.state == "synced"
        assert win.review.table.rowCount() == 2
    # The registry is gone now. A round says so and the window carries on.
    sync(qtbot, win)
    assert win.sync.last is not None and win.sync.last.state == "offline"
    assert "Offline" in win.sync_badge.text()
    assert "Offline" in win.sync_panel.state_label.text()
    assert "Nothing was lost" in win.sync_panel.state_label.text()

    # Work goes on: a commit, and a review decision that waits in the outbox.
    mine = win.vault.commit("notes/offline", content("written on a train"), "offline")
    win.browser.reload()
    win._on_committed(mine)
    assert badge(win, "notes/offline") == BADGES["local"]
    assert "waiting to sync" in win.sync_badge.text()
    win.review.reload()
    assert win.review.select(v1.id)
    win.review.comment.setPlainText("reads well")
    with qtbot.waitSignal(win.sync.finished, timeout=10_000):
        win.review.approve_button.click()
    assert win.sync.last is not None and win.sync.last.state == "offline"
    [entry] = SyncStore(win.vault).outbox()
    assert (entry.kind, entry.status, entry.payload["decision"]) == ("review", "pending", "approve")
    row = next(r for r, item in enumerate(win.review.table.queued) if item.version.id == v1.id)
    assert win.review.table.item(row, 4).text() == "approve: pending"
    assert "pending" in win.sync_panel.table.item(0, 3).text()
    assert win.vault.history("notes/offline")[0].number is None  # kept, still to push


def test_revoked_token_is_explained_and_nothing_is_lost(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    win = open_window("alice", registry.url, registry.tokens["alice"])
    registry.service.disable_user("alice")
    version = win.vault.commit("p", content("after the revocation"), "still mine")
    with qtbot.waitSignal(win.reporter.shown, timeout=10_000) as shown:
        win.sync_action.trigger()
    assert win.sync.last is not None and win.sync.last.state == "unauthorized"
    assert "Token refused" in win.sync_badge.text()
    assert "nothing lost" in win.sync_badge.text()
    assert shown.args is not None and "sync" in shown.args[0]
    assert win.vault.version_by_id(version.id).number is None  # still here, waits to push
    assert SyncStore(win.vault).drafts()[0].id == version.id
    win.reporter.last_dialog.close()  # type: ignore[union-attr]


def test_reviewer_approves_from_the_queue_with_evidence(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    _v1, v2 = author_pushes(tmp_path, registry)
    bob_vault = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
    Syncer(bob_vault, registry.client("bob")).sync()
    # bob compared v2 earlier: that run is the evidence the queue shows.
    model = ModelRef(profile="echo", model="echo")
    run = Run(spec=RunSpec(prompt="support/reply", version_ids=(v2.id,), models=(model,)))
    runs = RunStore(bob_vault)
    runs.start(run)
    runs.add_cells(
        run.id,
        [
            CellResult(
                key=CellKey(version_id=v2.id, model=model, case_index=0),
                output="hi", input_tokens=12, output_tokens=3, cost_usd=0.0, ttft_ms=40.0,
                latency_ms=120.0,
            )
        ],
    )  # fmt: skip
    runs.finish(run.id, "finished")
    win = open_window("bob", registry.url, registry.tokens["bob"], bob_vault)
    win.tabs.setCurrentWidget(win.review)
    assert [item.version.display_number for item in win.review.table.queued] == ["v1", "v2"]
    assert win.review.select(v2.id)
    # No production yet: the diff is against its parent, and both texts are in it.
    assert "v1" in win.review.title.text()
    diff_text = win.review.diff.toPlainText()
    assert "Hello" in diff_text and "how can I help" in diff_text
    # The evidence is read off the GUI thread, then shown.
    qtbot.waitUntil(lambda: "1 calls, 0 errors" in win.review.evidence.text(), timeout=10_000)
    assert "120 ms" in win.review.evidence.text().replace("&nbsp;", " ")
    assert "finished" in win.review.evidence.text()
    assert "no checks" in win.review.evidence.text()  # the case had no assertions

    win.review.comment.setPlainText("clear and friendly")
    with qtbot.waitSignal(win.sync.finished, timeout=10_000):
        win.review.approve_button.click()
    with registry.client("carol") as carol:
        [review] = carol.reviews(v2.id)
    assert (review.reviewer, review.decision, review.comment) == (
        "bob", "approve", "clear and friendly",
    )  # fmt: skip
    assert review.evidence is not None
    assert (review.evidence.passed, review.evidence.failed) == (1, 0)
    assert [item.version.display_number for item in win.review.table.queued] == ["v1"]
    assert SyncStore(win.vault).outbox() == []


def test_request_changes_needs_a_comment(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    author_pushes(tmp_path, registry)
    win = open_window("bob", registry.url, registry.tokens["bob"])
    win.review.table.selectRow(0)
    with qtbot.waitSignal(win.reporter.shown) as shown:
        win.review.changes_button.click()
    assert shown.args is not None and "say what should change" in shown.args[1]
    assert SyncStore(win.vault).outbox() == []
    win.reporter.last_dialog.close()  # type: ignore[union-attr]


def open_publish(qtbot, win: MainWindow) -> PublishDialog:  # type: ignore[no-untyped-def]
    dialog = win.open_publish("support/reply")
    assert isinstance(dialog, PublishDialog)
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=10_000)
    return dialog


def choose(dialog: PublishDialog, version_id: uuid.UUID) -> None:
    dialog.version_box.setCurrentIndex(dialog.version_box.findData(str(version_id)))


def test_publisher_publishes_rolls_back_and_sees_refusals(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = author_pushes(tmp_path, registry)
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, registry.client("bob")).sync()
        queue_review(bob, bob.version_by_id(v1.id), "approve", "ok")
        assert Syncer(bob, registry.client("bob")).sync().rejected == []
    win = open_window("carol", registry.url, registry.tokens["carol"])

    # v2 is not approved: the registry refuses and its reason reaches the person.
    dialog = open_publish(qtbot, win)
    assert "does not exist yet" in dialog.current_label.text()
    choose(dialog, v2.id)
    dialog.reason.setText("launch")
    with qtbot.waitSignal(dialog.refused, timeout=10_000) as refused:
        dialog.publish_button.click()
    assert refused.args is not None and "not approved" in refused.args[0]
    assert dialog.refusal.isVisibleTo(dialog)
    assert "not approved by a reviewer" in dialog.refusal.text()
    assert win.reporter.last_dialog is not None
    win.reporter.last_dialog.close()

    # v1 is approved (by bob): the facts say so, and publishing works.
    choose(dialog, v1.id)
    assert "bob" in dialog.facts.text()
    with qtbot.waitSignal(dialog.published, timeout=10_000):
        dialog.publish_button.click()
    with registry.client("alice") as reader:
        resolved, _ = reader.resolve("support/reply")
    assert resolved is not None and resolved.version.id == v1.id

    # Later v2 is approved and published; then rolled back to v1 through the dialog.
    with Vault.open(tmp_path / "bob.sqlite3", actor="bob") as bob:
        queue_review(bob, bob.version_by_id(v2.id), "approve", "now good")
        Syncer(bob, registry.client("bob")).sync()
    dialog = open_publish(qtbot, win)
    choose(dialog, v2.id)
    dialog.reason.setText("better tone")
    assert dialog.publish_button.text() == "Publish"
    assert "Hello" in dialog.diff.toPlainText()  # the diff from v1 (now) to v2
    with qtbot.waitSignal(dialog.published, timeout=10_000):
        dialog.publish_button.click()
    dialog = open_publish(qtbot, win)
    assert "points at <b>v2</b>" in dialog.current_label.text()
    choose(dialog, v1.id)
    dialog.reason.setText("complaints")
    assert dialog.publish_button.text() == "Roll back to v1"
    assert "Rollback" in dialog.facts.text()
    with qtbot.waitSignal(dialog.published, timeout=10_000):
        dialog.publish_button.click()
    with registry.client("alice") as reader:
        resolved, _ = reader.resolve("support/reply")
    assert resolved is not None and resolved.version.id == v1.id
    # The label history, newest first, from the registry's audit log.
    dialog = open_publish(qtbot, win)
    reasons = [dialog.history.item(r, 4).text() for r in range(dialog.history.rowCount())]  # type: ignore[union-attr]
    assert reasons == ["complaints", "better tone", "launch"]
    dialog.close()
    qtbot.waitUntil(lambda: not win.sync.running, timeout=10_000)


def test_canary_from_the_publish_dialog_with_approvals_from_the_registry(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    """The dialog offers what `workbench publish --canary N --percent P` does, and
    shows approvals as the registry has them (given after the window's last sync)."""
    from PySide6.QtTest import QTest

    from tests.gui.people import button, click

    v1, v2 = author_pushes(tmp_path, registry)
    win = open_window("carol", registry.url, registry.tokens["carol"])
    # bob approves both after carol's window synced: her mirror does not know yet.
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, registry.client("bob")).sync()
        for v in (v1, v2):
            queue_review(bob, bob.version_by_id(v.id), "approve", "ok")
        assert Syncer(bob, registry.client("bob")).sync().rejected == []

    dialog = open_publish(qtbot, win)
    choose(dialog, v1.id)
    qtbot.waitUntil(lambda: "bob" in dialog.facts.text(), timeout=10_000)
    assert "from the registry" in dialog.facts.text()

    # Tick the canary, choose v2 at 25 %, by mouse and keyboard.
    assert not dialog.canary.box.isEnabled() and not dialog.canary.percent.isEnabled()
    QTest.mouseClick(button(dialog, "Canary:"), Qt.MouseButton.LeftButton)
    assert dialog.canary.box.isEnabled() and dialog.canary.percent.isEnabled()
    dialog.canary.box.setCurrentIndex(dialog.canary.box.findData(str(v2.id)))
    dialog.canary.percent.setFocus()
    dialog.canary.percent.selectAll()
    QTest.keyClicks(dialog.canary.percent, "25")
    assert dialog.canary.percent.value() == 25
    qtbot.waitUntil(lambda: "serves 25% of callers" in dialog.facts.text(), timeout=10_000)
    QTest.keyClicks(dialog.reason, "try v2 on a quarter")
    with qtbot.waitSignal(dialog.published, timeout=10_000) as published:
        click(dialog, "Publish")
    state = published.args[0]
    assert state.target.version_id == v1.id
    assert state.target.canary is not None
    assert (state.target.canary.version_id, state.target.canary.percent) == (v2.id, 25)
    with registry.client("alice") as reader:
        label = reader.label("support/reply", "production")
    assert label.target == state.target

    # The canary being the version itself is refused before anything is sent.
    dialog = open_publish(qtbot, win)
    choose(dialog, v2.id)
    QTest.mouseClick(button(dialog, "Canary:"), Qt.MouseButton.LeftButton)
    dialog.canary.box.setCurrentIndex(dialog.canary.box.findData(str(v2.id)))
    assert "is the version being published" in dialog.facts.text()
    dialog.close()
    qtbot.waitUntil(lambda: not win.sync.running, timeout=10_000)


def test_registry_gone_mid_publish_keeps_the_choice_and_a_retry_is_safe(
    qtbot, tmp_path: Path, open_window
) -> None:  # type: ignore[no-untyped-def]
    """The registry stops while the Publish dialog is open: Publish says it did not
    answer (not "refused"), keeps the choice and the reason; when the registry is back
    on its address, pressing Publish again finishes, even if the first request had got
    through (the label already there counts as published)."""
    db_url = f"sqlite:///{tmp_path / 'reg.sqlite3'}"
    stack = contextlib.ExitStack()
    registry = stack.enter_context(running_registry(RegistrySettings(db_url=db_url)))
    port = urlsplit(registry.url).port
    tokens = dict(registry.tokens)
    v1, _v2 = author_pushes(tmp_path, registry)
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, registry.client("bob")).sync()
        queue_review(bob, bob.version_by_id(v1.id), "approve", "ok")
        assert Syncer(bob, registry.client("bob")).sync().rejected == []
    win = open_window("carol", registry.url, tokens["carol"])
    dialog = open_publish(qtbot, win)
    choose(dialog, v1.id)
    dialog.reason.setText("launch")

    stack.close()  # the registry goes away, the dialog still open
    with qtbot.waitSignal(dialog.refused, timeout=20_000):
        qtbot.mouseClick(dialog.publish_button, Qt.MouseButton.LeftButton)
    refusal = dialog.refusal.text()
    assert refusal.startswith("The registry did not answer: cannot reach the registry"), refusal
    assert "refused" not in refusal and "press Publish again" in refusal
    assert dialog.isVisible() and dialog.reason.text() == "launch"
    assert dialog.chosen() is not None and dialog.chosen().id == v1.id  # type: ignore[union-attr]
    assert dialog.publish_button.isEnabled()
    assert win.reporter.last_dialog is not None
    win.reporter.last_dialog.close()

    # Back on the same address and database. Say the first request had got through
    # just before the registry went away: the label is already at v1.
    db = open_database(db_url)
    try:
        with serve_app(create_app(RegistrySettings(db_url=db_url), database=db), port=port):  # type: ignore[arg-type]
            with RegistryClient(f"http://127.0.0.1:{port}", tokens["carol"]) as first:
                first.move_label(
                    "support/reply", "production",
                    target=LabelTarget(version_id=v1.id), expected=None, reason="launch",
                )  # fmt: skip
            with qtbot.waitSignal(dialog.published, timeout=20_000) as published:
                qtbot.mouseClick(dialog.publish_button, Qt.MouseButton.LeftButton)
            state = published.args[0]
            assert state.target.version_id == v1.id
            with RegistryClient(f"http://127.0.0.1:{port}", tokens["alice"]) as reader:
                resolved, _ = reader.resolve("support/reply")
                moves = [e for e in reader.audit().entries if e.action == "label.move"]
            assert resolved is not None and resolved.version.id == v1.id
            assert len(moves) == 1  # moved once, not twice
            qtbot.waitUntil(lambda: not win.sync.running, timeout=10_000)
    finally:
        db.dispose()


def test_the_window_and_the_cli_both_take_the_token_from_the_environment(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window, data_dir: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A CI job gives the token in WORKBENCH_REGISTRY_TOKEN: `workbench sync` and the
    window started by the same job both use it when the keychain has none (the window
    said 'no token in the keychain' while the CLI synced)."""
    from workbench.cli.main import main
    from workbench.settings import save_settings

    monkeypatch.setenv("WORKBENCH_REGISTRY_TOKEN", registry.tokens["alice"])
    with Vault.open(tmp_path / "cli.sqlite3", create=True, actor="alice") as cli_vault:
        cli_vault.commit("from/cli", content("cli {{ x }}"), "first")
    save_settings(Settings(registry_url=registry.url))
    # The test session's Secret Service holds no token for this registry.
    assert main(["sync", "--vault", str(tmp_path / "cli.sqlite3")]) == 0

    vault = Vault.open(tmp_path / "app.sqlite3", create=True, actor="alice")
    vault.commit("from/app", content("app {{ x }}"), "first")
    win = open_window("alice", registry.url, None, vault)
    last = win.sync.last
    assert last is not None and last.state == "synced", last.error
    assert last.me is not None and last.me.name == "alice"
    assert badge(win, "from/app") == BADGES["synced"]
    assert badge(win, "from/cli") == BADGES["synced"]  # pulled: the CLI's push arrived

    # Without the variable and without a keychain token, both say what to do.
    monkeypatch.delenv("WORKBENCH_REGISTRY_TOKEN")
    sync(qtbot, win)
    assert win.sync.last is not None and win.sync.last.error is not None
    assert "Settings → Registry" in (win.sync.last.error.hint or "")


def test_settings_registry_token_goes_to_the_keychain_and_test_connection(
    qtbot, registry: RunningRegistry
) -> None:  # type: ignore[no-untyped-def]
    from workbench.ui.errors import ErrorReporter

    store = MemoryStore()
    dialog = SettingsDialog(Settings(), lambda: store, ErrorReporter())
    qtbot.addWidget(dialog)
    dialog.registry.r_url.setText(registry.url + "/")
    dialog.registry.r_token.setText(registry.tokens["bob"])
    dialog.registry.r_test_button.click()
    qtbot.waitUntil(lambda: "✔" in dialog.registry.r_status.text(), timeout=10_000)
    assert "bob (reviewer)" in dialog.registry.r_status.text()
    dialog._accept()
    assert dialog.settings.registry_url == registry.url
    assert dialog.settings.registry_user == "bob"
    assert store.get(token_key_name(registry.url)) == registry.tokens["bob"]
    assert registry.tokens["bob"] not in dialog.settings.model_dump_json()
    assert dialog.registry.r_token.text() == ""

    # Reopened: the token is not shown; a wrong token gets a clear answer.
    again = SettingsDialog(dialog.settings, lambda: store, ErrorReporter())
    qtbot.addWidget(again)
    assert again.registry.r_token.text() == ""
    assert again.registry.r_token.echoMode() == again.registry.r_token.EchoMode.Password
    again.registry.r_token.setText("wbr_not-a-real-token")
    again.registry.r_test_button.click()
    qtbot.waitUntil(lambda: "✘" in again.registry.r_status.text(), timeout=10_000)
    assert "wbr_not-a-real-token" not in again.registry.r_status.text()


def test_refused_decision_shows_the_reason_until_dismissed(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    vault = Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice")
    mine = vault.commit("p", content("mine"), "mine")
    win = open_window("alice", registry.url, registry.tokens["alice"], vault)
    assert win.sync.me is not None and win.sync.me.role == "author"
    # An author's role cannot review: the queue says so and offers no buttons.
    assert "Your registry role is author" in win.review.banner.text()
    win.review.table.selectRow(0)
    assert not win.review.approve_button.isEnabled()
    # A decision queued anyway (e.g. by the CLI) is refused by the registry.
    queue_review(vault, vault.version_by_id(mine.id), "approve")
    sync(qtbot, win)
    [entry] = SyncStore(vault).outbox()
    assert entry.status == "rejected"
    assert "1 refused" in win.sync_badge.text()
    panel = win.sync_panel
    assert panel.table.item(0, 3).text() == "refused"
    assert "reviewer" in panel.table.item(0, 4).text()  # the server's reason
    assert "refused" in win.review.table.item(0, 4).text()
    panel.table.selectRow(0)
    assert panel.dismiss_button.isEnabled()
    panel.dismiss_button.click()
    assert SyncStore(vault).outbox() == []
    assert panel.table.rowCount() == 0
    assert "refused" not in win.sync_badge.text()


def test_the_review_panel_shows_the_suite_and_what_changed_since_production(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    from workbench.core.runs import TestCase
    from workbench.core.suites import suite_hash

    first = (TestCase(name="greets", values={"name": "Ada"}), TestCase(name="asks"))
    changed = (TestCase(name="greets", values={"name": "Bo"}), TestCase(name="asks"))
    with Vault.open(tmp_path / "alice-cli.sqlite3", create=True, actor="alice") as alice:
        v1 = alice.commit("support/reply", content("Hello {{ name }}"), "first")
        v2 = alice.commit("support/reply", content("Hi {{ name }}, how can I help?"), "friendlier")
        alice.set_test_cases("support/reply", first)
        Syncer(alice, registry.client("alice")).sync()
        # v1 is approved with the first suite and published; then only a case changes.
        v1 = alice.version_by_id(v1.id)
        registry.client("bob").review(
            v1.id, decision="approve", content_hash=v1.content_hash, suite_hash=suite_hash(first)
        )
        registry.client("carol").move_label(
            "support/reply",
            "production",
            target=LabelTarget(version_id=v1.id),
            expected=None,
            reason="release",
        )
        alice.set_test_cases("support/reply", changed)
        assert Syncer(alice, registry.client("alice")).sync().pushed_suites == 1
    bob_vault = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
    win = open_window("bob", registry.url, registry.tokens["bob"], bob_vault)
    win.tabs.setCurrentWidget(win.review)
    assert win.review.select(v2.id)
    shown = win.review.suite.text()
    assert f"suite {suite_hash(changed)[:12]} (2 cases)" in shown  # type: ignore[index]
    assert f"vs suite {suite_hash(first)[:12]} that production (v1) was approved with" in shown  # type: ignore[index]
    assert "1 changed" in shown and "~ greets" in shown

    with qtbot.waitSignal(win.sync.finished, timeout=10_000):
        win.review.approve_button.click()
    [review] = registry.client("carol").reviews(v2.id)
    assert review.suite_hash == suite_hash(changed)  # the approval names the suite it saw
    # The publish dialog shows the same suite facts before the label moves.
    dialog = open_publish(qtbot, win)
    choose(dialog, v2.id)
    assert f"suite {suite_hash(changed)[:12]} (2 cases)" in dialog.facts.text()  # type: ignore[index]
    assert "~ greets" in dialog.facts.text()
    dialog.close()


def test_a_sync_round_asked_for_during_an_import_runs_after_it(
    qtbot, tmp_path: Path, registry: RunningRegistry, open_window
) -> None:  # type: ignore[no-untyped-def]
    """Sync goes through the window's vault writer: a round (F5) during a big import
    waits for it instead of waiting on SQLite's lock past the busy timeout, then pushes
    what the import brought; a refused decision dismissed meanwhile waits its turn too."""
    import random

    from bench.vault_scale import Zipf, make_bundle, vocabulary

    vault = Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice")
    mine = vault.commit("p", content("mine"), "mine")
    win = open_window("alice", registry.url, registry.tokens["alice"], vault)
    queue_review(vault, vault.version_by_id(mine.id), "approve")  # refused: alice is an author
    sync(qtbot, win)
    assert SyncStore(vault).outbox()[0].status == "rejected"
    rng = random.Random(3)
    bundle = make_bundle(100, 10, rng, Zipf(vocabulary(400, rng), rng))  # 1,000 versions
    path = tmp_path / "big.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")
    order: list[str] = []
    win.bundle_imported.connect(lambda _r: order.append("imported"))
    win.sync.finished.connect(lambda o: order.append(f"synced {o.state}"))
    win.sync_panel.dismissed.connect(lambda: order.append("dismissed"))

    with qtbot.waitSignal(win.sync.finished, timeout=300_000) as synced:
        win.import_bundle(path)
        qtbot.waitUntil(lambda: win.writer.busy == "importing big.json", timeout=60_000)
        win.sync_action.trigger()  # F5 while the import runs
        assert win.sync.running  # asked for: it waits its turn
        win.sync_panel.table.selectRow(0)
        win.sync_panel.dismiss_button.click()
        assert SyncStore(vault).outbox() != []  # queued behind the import too
    assert order == ["imported", "dismissed", "synced synced"]
    assert synced.args[0].error is None
    assert synced.args[0].report.pushed_versions == 1_000
    assert SyncStore(vault).outbox() == []
    assert win.reporter.last_dialog is None
    assert badge(win, "p") == BADGES["synced"]
