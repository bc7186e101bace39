"""A template that only explodes with a test case's values (the commit check renders
with the defaults, so it passes) is rendered for the preview off the GUI thread: the
window keeps handling events while the render runs into its bound, and the preview
then says which limit stopped it (issue 15, item 1)."""

from __future__ import annotations

import itertools
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from tests.gui.people import click_tab
from workbench.core.models import Message, PromptContent, Variable
from workbench.core.runs import TestCase
from workbench.vault import Vault

BOMB = "{% for a in range(n|int) %}{% for b in range(n|int) %}x{% endfor %}{% endfor %}"


def test_a_case_that_makes_the_template_explode_leaves_the_window_responsive(
    qtbot, window, vault: Vault
) -> None:  # type: ignore[no-untyped-def]
    content = PromptContent(
        messages=(Message(role="user", template=BOMB),),
        variables=(Variable(name="n", default="2"),),
    )
    vault.commit("bombs/loop", content, "fine with the default n=2")
    vault.set_test_cases("bombs/loop", [TestCase(name="huge", values={"n": "100000"})])
    window.browser.reload()
    window.browser.select("bombs/loop")
    click_tab(window, "Editor")
    editor = window.editor
    combo = editor.preview.case_combo
    combo.setFocus()
    while combo.currentIndex() > 0:  # the defaults first
        QTest.keyClick(combo, Qt.Key.Key_Up)
    assert combo.currentText() == "defaults only"
    qtbot.waitUntil(lambda: "xxxx" in editor.preview.text.toPlainText(), timeout=5000)  # n=2
    qtbot.waitUntil(lambda: not editor.preview.pending, timeout=5000)

    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    QTest.keyClick(combo, Qt.Key.Key_Down)  # a person picks the "huge" case
    assert combo.currentText() == "huge"
    qtbot.waitUntil(lambda: editor.preview.pending, timeout=5000)
    qtbot.waitUntil(lambda: not editor.preview.pending, timeout=10_000)
    took = time.perf_counter() - started
    timer.stop()
    during = [t for t in ticks if t >= started]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"render stopped after {took:.2f} s; {len(during)} timer ticks meanwhile, "
          f"longest gap {max(gaps, default=0) * 1000:.0f} ms")  # fmt: skip
    assert len(during) >= 3  # the GUI thread kept running while the render ran
    preview = editor.preview.text.toPlainText()
    assert preview.startswith("Cannot render with this test case:"), preview
    assert "rendering limit" in preview


def test_a_template_that_explodes_with_its_defaults_is_checked_off_the_gui_thread(
    qtbot, window, vault: Vault
) -> None:  # type: ignore[no-untyped-def]
    """The render-bound check (loops, sizes, time) of what is typed runs off the GUI
    thread: typing a bomb keeps the window handling events, then the message is
    marked and Commit says why it is off."""
    from tests.gui.people import text_edit_showing

    content = PromptContent(messages=(Message(role="user", template="Hello"),))
    vault.commit("bombs/typed", content, "harmless")
    window.browser.reload()
    window.browser.select("bombs/typed")
    click_tab(window, "Editor")
    editor = window.editor
    qtbot.waitUntil(
        lambda: bool(editor.message_editors) and editor.message_editors[0].text.isVisible()
    )
    box = text_edit_showing(window, "Hello")
    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    box.setFocus()
    box.selectAll()
    started = time.perf_counter()
    QTest.keyClicks(
        box, "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}"
    )
    editor.refresh()  # what the pause after typing triggers
    qtbot.waitUntil(lambda: not editor.limits_pending, timeout=10_000)
    took = time.perf_counter() - started
    timer.stop()
    during = [t for t in ticks if t >= started]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"typed and checked in {took:.2f} s; longest event-loop gap "
          f"{max(gaps, default=0) * 1000:.0f} ms")  # fmt: skip
    limit = [p for p in editor.problems if "rendering limit" in p.message]
    assert limit and limit[0].message_index == 0, [p.message for p in editor.problems]
    assert "template error" in editor.commit_blocker()  # Commit says why it is off
    assert not editor.commit_bar.button.isEnabled()
