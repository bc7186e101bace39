"""GUI test fixtures: offscreen Qt, a real vault in tmp_path, the local provider server.

Every test here is marked ``gui``. Windows are wired as the app wires them
(:func:`app_window`): comparisons run in the engine's child process, which gets the
test's profiles with each run and finds the provider key itself, as in the app; here in
its environment (the profiles' ``key_env``), so no key is written anywhere. Nothing
touches the real keychain, settings file or QSettings: the window gets its profiles
and secret store injected, and WORKBENCH_DATA_DIR / the QSettings path point into
tmp_path. A test that leaves a vault writer, a task thread or an engine process
running fails.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QSettings

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable
from workbench.engine.runner import ECHO_PROFILE, Engine
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.store import MemoryStore, SecretStore
from workbench.settings import Settings, save_settings
from workbench.vault import Vault

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.gui

KEY_ENV = "WORKBENCH_GUI_TEST_KEY"
"""The variable the test profiles name as ``key_env``: the engine process reads the
provider server's key from it (see :func:`provider_key`)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui" in str(item.fspath) and item.get_closest_marker("gui") is None:
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(path))
    return path


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        yield v


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as srv:
        yield srv


@pytest.fixture
def provider_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The provider server's key in this process's environment, which the engine
    processes it starts inherit: the way the app's engine reads a ``key_env`` key (in
    CI, say). The test's end takes it out again."""
    monkeypatch.setenv(KEY_ENV, DEFAULT_KEY)
    return KEY_ENV


@pytest.fixture
def profiles(server: ProviderServer, provider_key: str) -> dict[str, ProviderProfile]:
    local = ProviderProfile(
        name="local",
        family="openai",
        base_url=server.base_url("openai"),
        key_env=provider_key,
        models=("test-model", "test-model-2"),
    )
    return {"echo": ECHO_PROFILE, "local": local}


def app_window(
    vault: Vault,
    settings: Settings,
    profiles: Callable[[], Mapping[str, ProviderProfile]],
    **options: Any,
) -> MainWindow:
    """A ``MainWindow`` wired as ``workbench.ui.app`` wires it: runs go to engine
    processes (Compare's started now, Review's at its first run) that get ``profiles()``
    with each run; the pre-flight estimate is priced by an in-process Engine on the
    same profiles. ``options`` are MainWindow's (secrets, data_dir, qsettings...)."""
    from workbench.ui.engine_launch import EngineProcess, give_engine
    from workbench.ui.main_window import MainWindow

    win = MainWindow(
        vault,
        settings,
        engine_factory=lambda: Engine(vault, profiles()),
        profiles=profiles,
        **options,
    )
    give_engine(win, EngineProcess(vault.path, profiles, actor=vault.actor))
    return win


@pytest.fixture
def window(qtbot, vault: Vault, data_dir: Path, tmp_path: Path, profiles):  # type: ignore[no-untyped-def]
    settings = Settings(default_models=["local:test-model", "local:test-model-2"])
    qsettings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    store = MemoryStore()
    win = app_window(
        vault,
        settings,
        lambda: profiles,
        secrets=lambda: store,
        data_dir=data_dir,
        qsettings=qsettings,
    )
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()  # as the app's window closes: a run is cancelled, the engine ends


@pytest.fixture
def make_window(qtbot, vault: Vault, data_dir: Path, tmp_path: Path, provider_key: str):  # type: ignore[no-untyped-def]
    """Windows on an empty vault whose profiles come from their own settings, as in the
    app; the keychain is the store given and the settings file is in tmp_path (a
    profile that names ``provider_key`` as its ``key_env`` gets the provider server's
    key in the engine process). Windows made one after another share one QSettings
    file, as a restarted app does."""
    from workbench.app.services import profiles_from

    opened: list[MainWindow] = []
    path = tmp_path / "settings.json"

    def make(settings: Settings, store: SecretStore) -> MainWindow:
        holder: dict[str, MainWindow] = {}

        def profiles():  # type: ignore[no-untyped-def]
            return profiles_from(holder["win"].settings)

        win = app_window(
            vault,
            settings,
            profiles,
            secrets=lambda: store,
            data_dir=data_dir,
            save_settings=lambda s: save_settings(s, path),
            qsettings=QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat),
            sync_interval_s=0,
        )
        holder["win"] = win
        qtbot.addWidget(win)
        win.show()
        opened.append(win)
        return win

    yield make
    for win in opened:
        qtbot.waitUntil(lambda w=win: not w.model_lists.running, timeout=10_000)
        win.close()


@pytest.fixture(autouse=True)
def no_threads_left(qtbot) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Fail a test that leaves a vault writer, a task thread or an engine process running."""
    yield

    def leftovers() -> list[str]:
        return [
            t.name for t in threading.enumerate() if t.name.startswith(("vault-writer", "ui-task"))
        ]

    qtbot.waitUntil(lambda: not leftovers(), timeout=10_000)
    assert engine_processes() == [], "a test left an engine process running"


ENGINE_READY_MS = 60_000
"""A cold engine process on a loaded 2-core machine: seconds, not minutes."""


def engine_warm(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Wait until the window's engine process (started as the window opened) is warm.

    Called before a run whose test times it: a Run pressed earlier waits for Python to
    start and import the engine (seconds on a loaded machine), which the app does too
    but a test's timeouts are not about."""
    qtbot.waitUntil(lambda: win.controller.engine_is_ready, timeout=ENGINE_READY_MS)


def engine_processes() -> list[int]:
    """Ids of live engine child processes this test process started (Linux: from /proc)."""
    from workbench.app.engine_child import MODULE

    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # it ended while we looked
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == os.getpid() and MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


def two_versions(vault: Vault, name: str = "support/reply") -> tuple[PromptContent, PromptContent]:
    first = PromptContent(
        messages=(
            Message(role="system", template="You are a support agent."),
            Message(role="user", template="{{ question }}"),
        ),
        model=ModelDefaults(temperature=0.2, max_tokens=200),
        variables=(Variable(name="question"),),
    )
    second = PromptContent(
        messages=(
            Message(role="system", template="You are a friendly support agent. Be brief."),
            Message(role="user", template="Customer asks: {{ question }}"),
        ),
        model=ModelDefaults(temperature=0.4, max_tokens=200),
        variables=(Variable(name="question"),),
    )
    vault.commit(name, first, "first draft")
    vault.commit(name, second, "friendlier tone")
    return first, second
