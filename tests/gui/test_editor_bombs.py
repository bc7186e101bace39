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
    combo = editor.case_combo
    combo.setFocus()
    while combo.currentIndex() > 0:  # the defaults first
        QTest.keyClick(combo, Qt.Key.Key_Up)
    assert combo.currentText() == "defaults only"
    qtbot.waitUntil(lambda: "xxxx" in editor.preview.toPlainText(), timeout=5000)  # n=2
    qtbot.waitUntil(lambda: not editor.preview_pending, timeout=5000)

    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    QTest.keyClick(combo, Qt.Key.Key_Down)  # a person picks the "huge" case
    assert combo.currentText() == "huge"
    qtbot.waitUntil(lambda: editor.preview_pending, timeout=5000)
    qtbot.waitUntil(lambda: not editor.preview_pending, timeout=10_000)
    took = time.perf_counter() - started
    timer.stop()
    during = [t for t in ticks if t >= started]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"render stopped after {took:.2f} s; {len(during)} timer ticks meanwhile, "
          f"longest gap {max(gaps, default=0) * 1000:.0f} ms")  # fmt: skip
    assert len(during) >= 3  # the GUI thread kept running while the render ran
    preview = editor.preview.toPlainText()
    assert preview.startswith("Cannot render with this test case:"), preview
    assert "rendering limit" in preview
