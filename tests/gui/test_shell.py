"""The window shell as a first-time user meets it: empty states with first steps, a
starter template that previews, keyboard paths (Tab, Escape, Ctrl+S), context menus,
Edit and Help menus, a remembered layout, and one theme whose disabled widgets,
check boxes and diff colours read on light and dark alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QContextMenuEvent, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLineEdit,
    QMenu,
    QPushButton,
    QWidget,
)

from tests.gui.conftest import app_window, engine_warm, two_versions
from workbench.core.models import Message, PromptContent
from workbench.core.runs import TestCase
from workbench.engine.runner import ECHO_PROFILE
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.history import DiffView
from workbench.ui.theme import DARK, LIGHT, apply_theme, contrast_ratio
from workbench.vault import Vault

pytestmark = pytest.mark.gui


def visible_button(root: QWidget, text: str) -> QPushButton:
    """The one visible push button under ``root`` whose label reads ``text``."""
    found = [b for b in root.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert len(found) == 1, f"{len(found)} visible buttons read {text!r}"
    return found[0]


def menu_texts(menu: QMenu) -> list[str]:
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def top_menu(window, title: str) -> QMenu:  # type: ignore[no-untyped-def]
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            return menu
    raise AssertionError(f"no {title} menu")


def right_click(widget: QWidget, pos: QPoint) -> None:
    """What the platform sends on a right click (or the Menu key)."""
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)


def focus_window(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


@pytest.fixture
def themed() -> Iterator[QApplication]:
    """Themes change the whole application: put the default back afterwards."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, sheet, dark = app.palette(), app.styleSheet(), app.property("workbench_dark")
    yield app
    app.setProperty("workbench_dark", dark)
    app.setPalette(palette)
    app.setStyleSheet(sheet)


# ---- first run ---------------------------------------------------------------------


def test_empty_vault_shows_first_steps_and_load_samples_fills_the_tree(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    browser = window.browser
    assert not browser.tree.isVisible(), "an empty vault shows first steps, not a blank tree"
    assert "No prompts yet" in browser.empty_state.title.text()
    # The editor shows an empty state too, not fields that only look editable.
    assert not window.editor.editor_page.isVisible()
    assert "Welcome" in window.editor.empty_state.title.text()
    visible_button(browser, "New prompt")
    for text in ("Load sample prompts", "New prompt", "Add a provider"):
        visible_button(window.editor, text)
    load = visible_button(browser, "Load sample prompts")
    with qtbot.waitSignal(window.bundle_imported, timeout=60_000):
        qtbot.mouseClick(load, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: browser.tree.isVisible())
    assert "support/reply" in browser.model.names()
    assert len(browser.model.names()) >= 5
    assert "No prompt selected" in window.editor.empty_state.title.text()


def test_new_prompt_starter_template_previews(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    window.new_prompt("support/refund")
    editor = window.editor
    assert editor.editor_page.isVisible()
    editor.refresh()
    qtbot.waitUntil(lambda: not editor.preview.pending, timeout=5000)  # rendered off-thread
    preview = editor.preview.text.toPlainText()
    assert "Cannot render" not in preview and "fix the problems" not in preview, preview
    assert "── user ──" in preview
    assert "What can you help me with?" in preview  # the declared default fills {{ question }}
    assert editor.preview.estimate.text(), "the estimate shows once the preview renders"


def test_title_is_the_file_name_and_marks_unsaved_edits(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    assert window.windowTitle() == f"{vault.path.name}[*]"  # Qt adds the display name
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    assert not window.isWindowModified()
    editor = window.editor
    editor.message_editors[0].text.setPlainText("You are terse.")
    editor.flush_draft()
    editor.save_draft()
    assert window.isWindowModified()
    vault.commit(
        "billing/invoice", PromptContent(messages=(Message(role="user", template="Hi"),)), "hi"
    )
    window.browser.reload()
    window.browser.select("billing/invoice")
    assert not window.isWindowModified(), "the mark is about the prompt shown"
    window.browser.select("support/reply")
    assert window.isWindowModified()


# ---- opening a version is not an edit ----------------------------------------------


def test_opening_undeclared_variables_is_not_a_change(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    content = PromptContent(
        messages=(Message(role="user", template="Order {{ order_id }}: {{ question }}"),)
    )
    vault.commit("support/orders", content, "imported without declarations")
    window.browser.reload()
    window.browser.select("support/orders")
    editor = window.editor
    editor.refresh()
    names = [editor.variables.item(r, 0).text() for r in range(editor.variables.rowCount())]
    assert names == ["order_id", "question"]  # shown as found in the templates...
    assert not editor.unsaved()  # ...but not an edit
    assert not editor.commit_bar.button.isEnabled()
    assert "Nothing to commit" in editor.commit_bar.reason.text()
    editor.save_draft()
    badge = window.browser.model.index_of("support/orders").siblingAtColumn(1).data()
    assert "edited" not in (badge or "")
    assert not window.isWindowModified()
    qtbot.keyClicks(editor.commit_bar.message, "declare the variables")
    editor.refresh()
    assert not editor.commit_bar.button.isEnabled(), "a message alone does not make a version"
    editor.commit()
    assert len(vault.history("support/orders")) == 1


# ---- keyboard ----------------------------------------------------------------------


def test_escape_clears_search_and_tab_reaches_results(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    focus_window(qtbot, window)
    search = window.browser.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "friendly")
    qtbot.waitUntil(lambda: window.browser.model.names() == ["support/reply"])
    qtbot.keyClick(search, Qt.Key.Key_Tab)
    assert window.browser.tree.hasFocus(), "one Tab goes from the search box to the results"
    search.setFocus()
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    assert search.text() == ""


def test_ctrl_s_with_no_message_says_what_is_needed(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    focus_window(qtbot, window)
    editor = window.editor
    text = editor.message_editors[0].text
    text.setFocus()
    qtbot.waitUntil(text.hasFocus)
    qtbot.keyClicks(text, " Be kind.")
    editor.refresh()
    assert not editor.commit_bar.button.isEnabled()
    assert "commit message" in editor.commit_bar.button.toolTip()  # a disabled button says why
    qtbot.keyClick(text, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "commit message" in window.statusBar().currentMessage()
    assert editor.commit_bar.message.hasFocus()
    assert len(vault.history("support/reply")) == 2


def test_tree_context_menu_copies_the_name(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    tree = window.browser.tree
    index = window.browser.model.index_of("support/reply")
    pos = tree.visualRect(index).center()
    right_click(tree.viewport(), pos)
    menu = window.browser.context_menu
    assert menu is not None
    assert menu_texts(menu) == ["New prompt…", "Export…", "Copy name"]
    next(a for a in menu.actions() if a.text() == "Copy name").trigger()
    menu.close()
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None and clipboard.text() == "support/reply"


def test_history_context_menu_compares_versions(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    table = window.history.table
    window.tabs.setCurrentWidget(window.history)
    window.history.select_versions([1])
    pos = table.visualRect(window.history.model.index(1, 0)).center()
    right_click(table.viewport(), pos)
    menu = window.context_menu
    assert menu is not None
    texts = menu_texts(menu)
    assert "Diff with its parent" in texts and "Compare in the Compare tab" in texts
    next(a for a in menu.actions() if a.text() == "Compare in the Compare tab").trigger()
    menu.close()
    assert window.tabs.currentWidget() is window.compare
    older = vault.history("support/reply")[0].id
    checked = [
        window.compare.setup.versions_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(window.compare.setup.versions_list.count())
        if window.compare.setup.versions_list.item(i).checkState() == Qt.CheckState.Checked
    ]
    assert checked == [older]


def test_edit_menu_acts_on_the_focused_field(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    edit = top_menu(window, "Edit")
    for text in ("Undo", "Redo", "Cut", "Copy", "Paste", "Select all"):
        assert text in menu_texts(edit)
    focus_window(qtbot, window)
    search = window.browser.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "refund")
    action = {a.text().replace("&", ""): a for a in edit.actions()}
    action["Select all"].trigger()
    action["Cut"].trigger()
    assert search.text() == ""
    action["Paste"].trigger()
    action["Paste"].trigger()
    assert search.text() == "refundrefund"
    action["Undo"].trigger()
    assert search.text() == "refund"


def test_help_lists_the_shortcuts_and_the_readme(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    help_ = top_menu(window, "Help")
    texts = menu_texts(help_)
    assert "Keyboard shortcuts" in texts and "README (user guide)" in texts
    next(a for a in help_.actions() if a.text() == "&Keyboard shortcuts").trigger()
    dialog = window.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    from PySide6.QtWidgets import QTableWidget

    table = dialog.findChild(QTableWidget, "shortcutsTable")
    rows = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
    assert ("Ctrl+S", "Commit") in rows
    assert ("Ctrl+F", "Find prompt") in rows
    assert ("Ctrl+R", "Run comparison") in rows
    assert "Clear the search" in [text for _keys, text in rows]
    dialog.close()
    next(a for a in help_.actions() if a.text().startswith("&README")).trigger()
    readme = window.readme_dialog
    assert readme is not None and readme.isVisible()
    from PySide6.QtWidgets import QTextBrowser

    view = readme.findChild(QTextBrowser, "readmeView")
    assert "Prompt Workbench" in view.toPlainText()
    readme.close()


# ---- layout ------------------------------------------------------------------------


def _second_window(vault: Vault, data_dir: Path, layout: Path):  # type: ignore[no-untyped-def]
    store = MemoryStore()
    return app_window(
        vault,
        Settings(),
        lambda: {"echo": ECHO_PROFILE},
        secrets=lambda: store,
        data_dir=data_dir,
        qsettings=QSettings(str(layout), QSettings.Format.IniFormat),
    )


def test_layout_is_restored_and_the_sidebar_keeps_a_usable_width(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, data_dir: Path, tmp_path: Path
) -> None:
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    assert window.splitter.sizes()[0] >= window.browser.MIN_WIDTH
    screen = window.screen().availableGeometry()  # a restored window fits its screen
    width, height = min(1180, screen.width() - 20), min(760, screen.height() - 20)
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.width() == width)
    window.splitter.setSizes([230, width - 246])
    window.tabs.setCurrentWidget(window.history)
    sizes = window.splitter.sizes()
    window.close()
    again = _second_window(vault, data_dir, tmp_path / "layout.ini")
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (width, height)
    assert again.splitter.sizes() == sizes
    assert again.tabs.currentWidget() is again.history
    again.close()


def test_opening_a_run_leaves_the_sidebar_alone(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    vault.set_test_cases("support/reply", [TestCase(name="a", values={"question": "hi"})])
    window.browser.reload()
    window.browser.select("support/reply")
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    before = window.splitter.sizes()[0]
    compare = window.compare
    compare.check_only(models=["echo:echo"])
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        window.run_compare()
    window.tabs.setCurrentWidget(window.runs)
    window.open_run(done.args[0].id)
    QApplication.processEvents()
    assert window.splitter.sizes()[0] == before
    assert window.width() == 1024


# ---- theme -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_disabled_widgets_are_greyed(qtbot, themed: QApplication, scheme: str) -> None:  # type: ignore[no-untyped-def]
    apply_theme(themed, scheme)
    on, off = QPushButton("Commit"), QPushButton("Commit")
    off.setEnabled(False)
    field = QLineEdit("text")
    field.setEnabled(False)
    for w in (on, off, field):
        qtbot.addWidget(w)
    role = QPalette.ColorRole.ButtonText
    enabled_text = on.palette().color(QPalette.ColorGroup.Active, role)
    disabled_text = off.palette().color(QPalette.ColorGroup.Disabled, role)
    assert enabled_text != disabled_text
    base = QPalette.ColorRole.Base
    assert field.palette().color(QPalette.ColorGroup.Disabled, base) != field.palette().color(
        QPalette.ColorGroup.Active, base
    )
    # What is drawn differs too: the darkest (light) or brightest (dark) text pixel.
    on.show()
    off.show()
    qtbot.waitExposed(off)

    def extreme(widget: QWidget) -> float:
        image = widget.grab().toImage()
        values = [
            QColor(image.pixel(x, y)).lightnessF()
            for x in range(0, image.width(), 1)
            for y in range(image.height() // 4, 3 * image.height() // 4)
        ]
        return max(values) if scheme == "dark" else min(values)

    assert abs(extreme(on) - extreme(off)) > 0.15


def test_dark_check_box_border_shows(qtbot, themed: QApplication) -> None:  # type: ignore[no-untyped-def]
    apply_theme(themed, "dark")
    box = QCheckBox("Reuse cached answers")
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    image = box.grab().toImage()
    window = QColor(DARK.window)
    left = [QColor(image.pixel(x, y)) for x in range(0, 20) for y in range(image.height())]
    assert max(contrast_ratio(c, window) for c in left) >= 3.0, "the unchecked box is visible"


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_diff_colours_have_enough_contrast(theme) -> None:  # type: ignore[no-untyped-def]
    for background in (
        theme.base,
        theme.diff_del_bg,
        theme.diff_ins_bg,
        theme.diff_del_mark,
        theme.diff_ins_mark,
        theme.diff_head_bg,
    ):
        assert contrast_ratio(theme.diff_text, background) >= 4.5, background
    assert contrast_ratio(theme.diff_lineno, theme.base) >= 4.5
    for message in (theme.error, theme.warning, theme.dim):  # problem marks, hints
        assert contrast_ratio(message, theme.window) >= 4.5, message


def test_diff_follows_a_theme_switch(qtbot, themed: QApplication, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    first, second = two_versions(vault)
    apply_theme(themed, "light")
    view = DiffView()
    qtbot.addWidget(view)
    view.show_diff(first, second, "v1", "v2")
    assert LIGHT.diff_del_bg in view.toHtml()
    apply_theme(themed, "dark")
    QApplication.processEvents()
    html = view.toHtml()
    assert DARK.diff_del_bg in html and DARK.diff_head_bg in html
    assert LIGHT.diff_head_bg not in html
    assert themed.palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)


def test_template_colours_follow_a_theme_switch(qtbot, themed: QApplication) -> None:  # type: ignore[no-untyped-def]
    from workbench.ui.editor.message_editor import MessageEditor

    apply_theme(themed, "light")
    card = MessageEditor(Message(role="user", template="{{ question }}"))
    qtbot.addWidget(card)
    light = card.highlighter.var.foreground().color()
    apply_theme(themed, "dark")
    QApplication.processEvents()
    assert card.highlighter.dark
    dark = card.highlighter.var.foreground().color()
    assert dark != light
    assert contrast_ratio(dark, DARK.base) >= 4.5


def test_copy_paste_keys_in_a_template_act_once(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    focus_window(qtbot, window)
    text = window.editor.message_editors[1].text
    text.setFocus()
    qtbot.waitUntil(text.hasFocus)
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(text, Qt.Key.Key_A, ctrl)
    qtbot.keyClick(text, Qt.Key.Key_C, ctrl)
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None and clipboard.text() == "Customer asks: {{ question }}"
    qtbot.keyClick(text, Qt.Key.Key_End, ctrl)
    qtbot.keyClick(text, Qt.Key.Key_V, ctrl)
    assert text.toPlainText() == "Customer asks: {{ question }}" * 2
    qtbot.keyClick(text, Qt.Key.Key_Z, ctrl)
    assert text.toPlainText() == "Customer asks: {{ question }}"
