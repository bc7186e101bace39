"""Driving widgets as a person would: found by the text they show (or their accessible
name), typed into with QTest key events and clicked with QTest mouse events."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QTabBar,
    QWidget,
)

from workbench.ui.main_window import MainWindow
from workbench.ui.settings_dialog import SettingsDialog


def button(root: QWidget, text: str) -> QAbstractButton:
    found = [
        b
        for b in root.findChildren(QAbstractButton)
        if b.text().replace("&", "") == text and b.isVisible()
    ]
    assert len(found) == 1, f"expected one visible button {text!r}, found {len(found)}"
    return found[0]


def field(root: QWidget, label: str) -> QWidget:
    """The visible input a form label names (its buddy)."""
    for lab in root.findChildren(QLabel):
        if lab.text().replace("&", "") == label and lab.isVisible() and lab.buddy() is not None:
            return lab.buddy()
    raise AssertionError(f"no visible field labelled {label!r}")


def type_into(root: QWidget, label: str, text: str) -> None:
    edit = field(root, label)
    assert isinstance(edit, QLineEdit)
    edit.setFocus()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, text)


def click(root: QWidget, text: str) -> None:
    b = button(root, text)
    assert b.isEnabled(), f"{text!r} is disabled"
    QTest.mouseClick(b, Qt.MouseButton.LeftButton)


def profile_list(root: QWidget) -> QListWidget:
    lists = [w for w in root.findChildren(QListWidget) if w.accessibleName() == "Provider profiles"]
    assert len(lists) == 1
    return lists[0]


def click_profile(root: QWidget, name: str) -> None:
    lst = profile_list(root)
    items = lst.findItems(name, Qt.MatchFlag.MatchExactly)
    assert items, f"no profile {name!r} in the list"
    rect = lst.visualItemRect(items[0])
    QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def names_in(lst: QListWidget) -> list[str]:
    return [lst.item(i).text() for i in range(lst.count())]


def in_settings(qtbot, win: MainWindow, steps: Callable[[SettingsDialog], None]) -> None:  # type: ignore[no-untyped-def]
    """Open Settings from the File menu (Ctrl+,), run ``steps`` in the open dialog."""
    problems: list[BaseException] = []

    def drive() -> None:
        dialog = QApplication.activeModalWidget()
        try:
            assert isinstance(dialog, SettingsDialog)
            steps(dialog)
        except BaseException as exc:  # reported after the dialog is gone
            problems.append(exc)
            if isinstance(dialog, QDialog) and dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, drive)
    QTest.keySequence(win, "Ctrl+,")
    if problems:
        raise problems[0]


# ---- more of the window, as a person reaches it (H9) ---------------------------------


def click_at(view: QAbstractItemView, index: QModelIndex) -> None:
    """Click the middle of ``index`` in ``view`` (scrolled into view first)."""
    assert index.isValid(), "no such row"
    view.scrollTo(index)
    rect = view.visualRect(index)
    assert not rect.isEmpty(), "the row is not shown"
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def click_tab(root: QWidget, text: str) -> None:
    """Click the visible tab called ``text`` (in any tab bar under ``root``)."""
    for bar in root.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        for i in range(bar.count()):
            if bar.tabText(i).replace("&", "") == text:
                QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
                assert bar.currentIndex() == i, f"the tab {text!r} did not open"
                return
    raise AssertionError(f"no visible tab {text!r}")


def check_item(lst: QListWidget, text: str) -> QListWidgetItem:
    """The item whose shown text is ``text`` or starts with it followed by a space."""
    found = [
        lst.item(i)
        for i in range(lst.count())
        if lst.item(i).text() == text or lst.item(i).text().startswith(text + " ")
    ]
    assert len(found) == 1, f"expected one item {text!r}, found {[i.text() for i in found]}"
    return found[0]


def tick(lst: QListWidget, text: str, on: bool = True) -> None:
    """Make the check box of the item ``text`` say ``on``: click the item, press Space."""
    item = check_item(lst, text)
    want = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
    if item.checkState() == want:
        return
    click_at(lst, lst.indexFromItem(item))
    QTest.keyClick(lst, Qt.Key.Key_Space)
    assert item.checkState() == want, f"{text!r} did not toggle"


def field_with_placeholder(root: QWidget, start: str) -> QLineEdit:
    """The visible line edit whose grey hint text starts with ``start``."""
    found = [
        e
        for e in root.findChildren(QLineEdit)
        if e.isVisible() and e.placeholderText().startswith(start)
    ]
    assert len(found) == 1, f"expected one visible field hinting {start!r}, found {len(found)}"
    return found[0]


def text_edit_showing(root: QWidget, text: str) -> QPlainTextEdit:
    """The visible, editable plain-text editor whose text contains ``text``."""
    found = [
        e
        for e in root.findChildren(QPlainTextEdit)
        if e.isVisible() and not e.isReadOnly() and text in e.toPlainText()
    ]
    assert len(found) == 1, f"expected one visible editor showing {text!r}, found {len(found)}"
    return found[0]


def activate(qtbot, window: QWidget) -> None:  # type: ignore[no-untyped-def]
    """Make ``window`` the active one again (offscreen, closing a dialog leaves none
    active, and window shortcuts such as Ctrl+S only reach the active window)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def resize_window(qtbot, window: QWidget, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    """Resize ``window`` as a person drags it, and wait until every layout inside has
    taken the new size: a resize only posts layout requests, and on a loaded machine
    a check made straight after it reads the old (or a half-done) geometry."""
    window.resize(width, height)

    def geometry() -> tuple[object, ...]:
        views = window.findChildren(QAbstractScrollArea)
        return (window.size(), *(v.viewport().size() for v in views if v.isVisible()))

    seen: list[tuple[object, ...]] = []

    def settled() -> bool:
        QApplication.processEvents()
        seen.append(geometry())
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    qtbot.waitUntil(lambda: window.size().width() == width and settled(), timeout=5000)
    QApplication.processEvents()  # the timers a resize started (column fitting) run now
