"""The Publish dialog says how the label's versions do in production (issue 14):
spans sent by the official OpenTelemetry SDK to a real registry, read back as the
person publishing sees them, and nothing when the label has no calls yet."""

from __future__ import annotations

import uuid
from pathlib import Path

from PySide6.QtCore import Qt

from tests.gui.people import click, click_tab, type_into
from tests.server.conftest import running_registry
from tests.server.test_registry_telemetry import Sender
from workbench.core.models import Message, PromptContent
from workbench.registry.review import publish, queue_review
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer, token_key_name
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.publish import PublishDialog
from workbench.vault import Vault

PROMPT = "support/reply"


def _content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def _seed(tmp_path: Path, registry) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice") as alice:
        v1 = alice.commit(PROMPT, _content("Hello {{ name }}"), "first")
        Syncer(alice, registry.client("alice")).sync()
        with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
            Syncer(bob, registry.client("bob")).sync()
            queue_review(bob, bob.version_by_id(v1.id), "approve", "good")
            Syncer(bob, registry.client("bob")).sync()
        with registry.client("carol") as carol:
            publish(carol, alice.version_by_id(v1.id), "production", expected=None, reason="go")
    return v1.id


def test_the_production_page_and_what_served_a_call(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, vault: Vault, make_window
) -> None:
    """Log → Production: the selected prompt's figures per label and version, and the
    answer to "what served this call?" for a trace id, as a person asks it."""
    settings_db = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    with running_registry(settings_db) as registry:
        shop = registry.service.add_user("shop", "app")
        _seed(tmp_path, registry)
        sender = Sender(registry.url, shop)
        try:
            attrs = {
                "langfuse.observation.prompt.name": PROMPT,
                "langfuse.observation.prompt.version": 1,
            }
            traces = [sender.call(attrs, latency_ms=ms) for ms in (300.0, 500.0)]
            sender.call(attrs, latency_ms=2_000.0, error=True)
        finally:
            sender.close()
        Syncer(vault, registry.client("carol")).sync()
        store = MemoryStore()
        store.set(token_key_name(registry.url), registry.tokens["carol"])
        win = make_window(Settings(registry_url=registry.url), store)
        win.browser.select(PROMPT)
        page = win.production
        with qtbot.waitSignal(page.loaded, timeout=15_000):
            click_tab(win, "Log")
            click_tab(win, "Production")
        qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=15_000)
        model = page.model
        row = [model.index(0, c).data() for c in range(model.columnCount())]
        headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(row))]
        shown = dict(zip(headers, row, strict=True))
        assert (shown["Label"], shown["Version"], shown["Calls"]) == ("production", "v1", "3")
        assert shown["Errors"] == "1 (33.3%)"
        assert shown["Cost"].startswith("$") and shown["Apps"] == "shop 3"

        type_into(page, "Trace id", traces[0])
        with qtbot.waitSignal(page.loaded, timeout=15_000):
            click(page, "Find")
        text = page.answer.toPlainText()
        assert f"trace {traces[0]}" in text and f"prompt: {PROMPT} v1 via production" in text
        assert "model: gpt-4o-mini-2024-07-18 by openai" in text
        page.wait_threads()


def test_publish_shows_the_label_s_production_figures(
    qtbot, tmp_path: Path, vault: Vault, make_window
) -> None:  # type: ignore[no-untyped-def]
    settings_db = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    with running_registry(settings_db) as registry:
        shop = registry.service.add_user("shop", "app")
        with Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice") as alice:
            v1 = alice.commit(PROMPT, _content("Hello {{ name }}"), "first")
            Syncer(alice, registry.client("alice")).sync()
            with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
                Syncer(bob, registry.client("bob")).sync()
                queue_review(bob, bob.version_by_id(v1.id), "approve", "good")
                Syncer(bob, registry.client("bob")).sync()
            with registry.client("carol") as carol:
                publish(carol, alice.version_by_id(v1.id), "production", expected=None, reason="go")
        Syncer(vault, registry.client("carol")).sync()  # the publisher's vault, synced
        store = MemoryStore()
        store.set(token_key_name(registry.url), registry.tokens["carol"])
        win = make_window(Settings(registry_url=registry.url), store)

        # Before any production call: the dialog says there were none.
        dialog = win.open_publish(PROMPT)
        assert isinstance(dialog, PublishDialog)
        qtbot.waitUntil(lambda: dialog.context is not None, timeout=15_000)
        assert "No production calls" in dialog.production_label.text()
        assert dialog.production_label.isVisible()
        dialog.wait_threads()
        dialog.close()

        sender = Sender(registry.url, shop)
        try:
            attrs = {
                "langfuse.observation.prompt.name": PROMPT,
                "langfuse.observation.prompt.version": 1,
            }
            for ms in (400.0, 600.0, 900.0):
                sender.call(attrs, latency_ms=ms)
        finally:
            sender.close()

        dialog = win.open_publish(PROMPT)
        assert isinstance(dialog, PublishDialog)
        qtbot.waitUntil(lambda: dialog.context is not None, timeout=15_000)
        text = dialog.production_label.text()
        assert "In production, last 24 h" in text
        assert "production v1: 3 calls" in text and "p95" in text
        dialog.wait_threads()
        dialog.close()
