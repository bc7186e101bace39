"""A reviewer runs the version under review against production from the Review tab and
reads, per case, what regressed (with the answers' diff) and what was fixed; driven by
what the window shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gui.conftest import ENGINE_READY_MS, engine_processes, two_versions
from tests.gui.people import click, click_tab, type_into
from tests.gui.test_sync_ui import author_pushes, open_window, registry  # noqa: F401
from tests.server.conftest import RunningRegistry
from workbench.core.assertions import Assertion
from workbench.core.runs import TestCase
from workbench.registry.review import publish
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.runs import RunStore

pytestmark = pytest.mark.gui


def _production_is_v1(tmp_path: Path, registry: RunningRegistry) -> Any:  # noqa: F811
    v1, v2 = author_pushes(tmp_path, registry)
    with Vault.open(tmp_path / "carol.sqlite3", create=True, actor="carol") as carol:
        sync = Syncer(carol, registry.client("carol"))
        sync.sync()
        sync.queue_review(carol.version_by_id(v1.id), "approve", "fine")
        assert sync.sync().rejected == []
        with registry.client("carol") as client:
            publish(client, carol.version_by_id(v1.id), "production", expected=None,
                    reason="launch")  # fmt: skip
    return v1, v2


def test_a_reviewer_sees_what_the_version_under_review_breaks(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    _v1, v2 = _production_is_v1(tmp_path, registry)
    vault = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
    win = open_window("bob", registry.url, registry.tokens["bob"], vault)  # syncs the label
    vault.set_test_cases(
        "support/reply",
        [
            TestCase(name="greets", values={"name": "Ada"},
                     assertions=(Assertion(type="contains", value="Hello"),)),
            TestCase(name="offers-help", values={"name": "Ada"},
                     assertions=(Assertion(type="contains", value="help"),)),
        ],
    )  # fmt: skip
    click_tab(win, "Review")
    qtbot.waitUntil(lambda: win.review.select(v2.id), timeout=10_000)
    assert win.regression.against.text() == "production"
    type_into(win, "Models:", "echo:echo")
    click(win, "Run regression")  # its engine process starts now, at its first run
    report = win.regression.result
    qtbot.waitUntil(lambda: "Regressed against" in report.toPlainText(), timeout=ENGINE_READY_MS)
    text = report.toPlainText()
    assert "Regressed against production (v1): v2 on echo:echo" in text
    assert "1 regressed, 1 fixed, 0 still failing, 0 still passing" in text
    assert "greets" in text and "REGRESSED" in text and "offers-help" in text
    assert "contains 'Hello': the answer does not contain 'Hello'" in text
    assert "-Hello Ada" in text and "+Hi Ada, how can I help?" in text
    assert report.isVisible()
    assert win.regression.run_button.isEnabled()
    # The regression ran on its own: one run in the log, the Compare grid untouched.
    assert len(RunStore(vault).list_runs("support/reply")) == 1
    assert not win.controller.running and win.compare.grid_model.rowCount() == 0


def test_a_missing_label_says_how_to_get_it(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    _v1, v2 = author_pushes(tmp_path, registry)
    win = open_window("bob", registry.url, registry.tokens["bob"])
    click_tab(win, "Review")
    qtbot.waitUntil(lambda: win.review.select(v2.id), timeout=10_000)
    shown: list[str] = []
    win.reporter.shown.connect(lambda title, text: shown.append(f"{title} {text}"))
    type_into(win, "Against:", "staging")
    click(win, "Run regression")
    assert shown and "no label or version 'staging'" in shown[0]
    assert "workbench sync" in shown[0]
    assert not win.review_runs.running


def test_in_the_app_the_regression_runs_in_an_engine_process_of_its_own(
    qtbot: Any,
    window: Any,
    vault: Vault,
    server: Any,
) -> None:
    two_versions(vault)
    vault.set_test_cases(
        "support/reply",
        [TestCase(name="framed", values={"question": "Where is my refund?"},
                  assertions=(Assertion(type="contains", value="Customer asks"),))],
    )  # fmt: skip
    box = window.regression
    assert box.engine_process is not None  # given as the app gives it (conftest.app_window)
    assert box.controller.child_pid() is None  # not started before it is needed
    click_tab(window, "Review")
    box.set_version(vault.history("support/reply")[-1])  # as if picked in the queue
    type_into(window, "Against:", "draft1")
    type_into(window, "Models:", "local:test-model")
    click(window, "Run regression")
    qtbot.waitUntil(lambda: "No regression" in box.result.toPlainText(), timeout=ENGINE_READY_MS)
    assert "0 regressed, 1 fixed" in box.result.toPlainText()
    pid = box.controller.child_pid()
    assert pid is not None and pid in engine_processes()
    assert window.controller.child_pid() != pid  # not Compare's engine process
    assert len(server.requests_for("test-model")) == 2
    window.close()
    assert box.controller.child_pid() is None and pid not in engine_processes()
