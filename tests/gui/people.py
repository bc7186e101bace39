"""Driving widgets as a person would: found by the text they show (or their accessible
name), typed into with QTest key events and clicked with QTest mouse events."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
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
