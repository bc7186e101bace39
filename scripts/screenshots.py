"""Write the screenshots of every screen: docs/screenshots/<size>-<theme>/<name>.png.

One process per screen size (run it under an Xvfb screen of exactly that size; the
window is given the whole screen), both themes in turn. For each theme it shows a
first start on an empty vault, then a vault synced from a real local registry
(alice wrote three versions, bob approved two, carol publishes) seen by carol:
editor, history diff, test cases, a finished comparison of 3 versions x 4 models x
3 cases (12 columns, 12 bars a chart) against the local provider server from tests/
(a few hundred ms TTFT and an answer of its own per question, so the numbers and the
checks look like a real API's) with its summary, charts and cell pane, the settings
dialog, review, publish and sync.

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshots.py 1440x900

``make screenshots`` runs it once per size in SIZES.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
SIZES = ("1024x700", "1440x900", "2560x1440")
THEMES = ("light", "dark")
CLAUDE = "claude-3-5-haiku-latest"
KEY = "provider-key"
KEY_ENV = "WORKBENCH_SHOTS_KEY"
"""The profiles' key for the engine process, which runs the comparison: it inherits
this process's environment, and finds no keychain (keyring's ``fail`` backend, so the
real one is never asked)."""
MODELS = (
    "openai:gpt-4o-mini", "openai:gpt-4o", f"anthropic:{CLAUDE}",
    "anthropic:claude-3-5-sonnet-20241022",
)  # fmt: skip

from PySide6.QtCore import QBuffer, QEventLoop, QIODevice, QSettings, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen, QPixmap, QRegion  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from tests.providerserver.server import DEFAULT_KEY, ProviderServer  # noqa: E402
from tests.server.conftest import RunningRegistry, running_registry  # noqa: E402
from workbench.core.assertions import Assertion  # noqa: E402
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable  # noqa: E402
from workbench.core.runs import TestCase  # noqa: E402
from workbench.engine.runner import ECHO_PROFILE, Engine  # noqa: E402
from workbench.providers.profiles import ProviderProfile  # noqa: E402
from workbench.registry.review import queue_review  # noqa: E402
from workbench.registry.schemas import LabelTarget  # noqa: E402
from workbench.registry.server.config import RegistrySettings  # noqa: E402
from workbench.registry.sync import Syncer, token_key_name  # noqa: E402
from workbench.secrets.store import MemoryStore  # noqa: E402
from workbench.settings import Settings  # noqa: E402
from workbench.ui.grid import CELL_ROLE  # noqa: E402
from workbench.ui.theme import apply_theme  # noqa: E402
from workbench.vault import Vault  # noqa: E402

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

REPLY_V1 = PromptContent(
    messages=(
        Message(role="system", template="You are a support agent for Acme.\nAnswer the customer."),
        Message(role="user", template="Customer ({{ tier }}): {{ question }}"),
    ),
    model=ModelDefaults(model="gpt-4o-mini", temperature=0.3, max_tokens=300),
    variables=(
        Variable(name="question", description="What the customer wrote"),
        Variable(name="tier", description="Plan of the customer"),
    ),
    tags=("support",),
)
REPLY_V2 = PromptContent(
    messages=(
        Message(
            role="system",
            template="You are a friendly support agent for Acme.\n"
            "Answer the customer in at most three sentences.\n"
            "{% if tier == 'gold' %}Offer priority handling.{% endif %}",
        ),
        Message(role="user", template="Customer ({{ tier }}): {{ question }}"),
    ),
    model=ModelDefaults(model="gpt-4o-mini", temperature=0.2, max_tokens=200),
    variables=(
        Variable(name="question", description="What the customer wrote"),
        Variable(name="tier", description="Plan of the customer", default="free"),
    ),
    tags=("support", "tone:friendly"),
)
REPLY_V3 = REPLY_V2.model_copy(
    update={
        "messages": (
            Message(
                role="system",
                template="You are a friendly support agent for Acme.\n"
                "Answer the customer in at most three sentences, in their language.\n"
                "{% if tier == 'gold' %}Offer priority handling.{% endif %}",
            ),
            REPLY_V2.messages[1],
        )
    }
)
OTHERS = {
    "billing/invoice-summary": "Summarise this invoice for the account owner:\n{{ invoice }}",
    "billing/dunning-email": "Write a polite reminder that invoice {{ number }} is overdue.",
    "marketing/headline": "Write five headlines for: {{ product }}",
    "search/query-rewrite": "Rewrite the query for a keyword search engine: {{ query }}",
    "agents/triage": "Classify the ticket as bug, billing or question:\n{{ ticket }}",
}
CASES = [
    TestCase(
        name="refund",
        values={"question": "Where is my refund for order 1182?", "tier": "gold"},
        assertions=(
            Assertion(type="contains", value="refund"),
            Assertion(type="max_latency_ms", value=1000),
        ),
    ),
    TestCase(
        name="login",
        values={"question": "I cannot log in since the update.", "tier": "free"},
        assertions=(Assertion(type="contains", value="password", ignore_case=True),),
    ),
    TestCase(
        name="cancel",
        values={"question": "How do I cancel my plan?", "tier": "free"},
        assertions=(Assertion(type="max_chars", value=400),),
    ),
]
SONNET = "claude-3-5-sonnet-20241022"
# Each case gets its own answer from each model, as a real API would give: the refund
# answers name the refund; on the login case gpt-4o-mini forgets the password reset
# (its "contains password" check fails); on the cancel case claude-3-5-haiku rambles
# past the 400-character limit.
REFUND = (
    "Thanks for reaching out! I have checked order 1182: the refund was issued on "
    "Monday and usually shows on your statement within three to five business days."
)
LOGIN = (
    "Sorry you are locked out! Please reset your password from the sign-in page "
    "(Forgot password?); the link arrives by e-mail within a minute."
)
CANCEL = (
    "You can cancel any time: Settings → Billing → Cancel plan. Your plan stays "
    "active until the end of the current billing period."
)
RAMBLE = (
    "I am sorry to hear you would like to leave! Before you go, may I mention that our "
    "annual plan saves 20% and that the free tier keeps your projects? If you still wish "
    "to cancel, open Settings, choose Billing, then Cancel plan, and confirm; you will "
    "receive an e-mail confirmation, and your data stays available for 30 days, during "
    "which you can reactivate at any time from the same page. Is there anything else I "
    "can help you with today?"
)
ANSWERS = (("refund", REFUND), ("log in", LOGIN), ("cancel", CANCEL))
SCRIPTS = {
    "gpt-4o-mini": dict(answers=(("refund", REFUND), ("log in", "Sorry about that! Try "
                        "clearing your browser cache and signing in again."),
                        ("cancel", CANCEL)),
                        ttft=0.32, chunks=12, chunk_delay=0.03, input_tokens=64, output_tokens=38),
    "gpt-4o": dict(answers=ANSWERS, ttft=0.41, chunks=10, chunk_delay=0.035,
                   input_tokens=64, output_tokens=31),
    CLAUDE: dict(answers=(("refund", REFUND.replace("Thanks", "Thank you")), ("log in", LOGIN),
                          ("cancel", RAMBLE)),
                 ttft=0.52, chunks=10, chunk_delay=0.05, input_tokens=71, output_tokens=41),
    SONNET: dict(answers=ANSWERS, ttft=0.68, chunks=10, chunk_delay=0.06,
                 input_tokens=71, output_tokens=36),
}  # fmt: skip


T0 = time.monotonic()


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal: object, start: object = None, timeout_ms: int = 60_000) -> None:
    """Connect, then call ``start`` (if any), then wait for ``signal`` to fire."""
    loop = QEventLoop()
    signal.connect(lambda *_a: loop.quit())  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    if callable(start):
        start()
    loop.exec()


def save_png(pixmap: QPixmap, path: Path) -> None:
    """PNG at the best zlib level; through Pillow's palette when it is much smaller."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG", 0)  # quality 0: the strongest compression
    data = bytes(buffer.data().data())
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, "PNG", optimize=True
    )
    path.write_bytes(min(data, small.getvalue(), key=len))


class Shots:
    def __init__(self, size: str, theme: str) -> None:
        self.dir = OUT / f"{size}-{theme}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def grab(self, widget: QWidget, name: str, screen: bool = False) -> None:
        """The widget as drawn; ``screen``: the whole screen (a dialog over the window)."""
        wait(250)
        QApplication.processEvents()
        if screen:
            # Xvfb has no window manager to frame a dialog: dim the window behind it
            # and draw its edge, as a desktop's modal shading would.
            pixmap = QGuiApplication.primaryScreen().grabWindow(0)
            painter = QPainter(pixmap)
            box = widget.frameGeometry()
            outside = QRegion(pixmap.rect()).subtracted(QRegion(box))
            painter.setClipRegion(outside)
            painter.fillRect(pixmap.rect(), QColor(0, 0, 0, 90))
            painter.setClipping(False)
            painter.setPen(QPen(widget.palette().color(QPalette.ColorRole.Mid), 1))
            painter.drawRect(box.adjusted(-1, -1, 0, 0))
            painter.end()
        else:
            pixmap = widget.grab()
        save_png(pixmap, self.dir / f"{name}.png")
        self.count += 1
        if os.environ.get("SHOTS_VERBOSE"):
            print(f"{time.monotonic() - T0:6.1f} s  {self.dir.name}/{name}.png")


def fill_screen(window: QWidget) -> None:
    window.setGeometry(QGuiApplication.primaryScreen().availableGeometry())
    window.show()
    window.raise_()
    window.activateWindow()


def make_window(vault: Vault, settings: Settings, profiles: dict[str, ProviderProfile],
                store: MemoryStore, data: Path) -> MainWindow:  # fmt: skip
    from workbench.ui.engine_launch import EngineProcess, give_engine
    from workbench.ui.main_window import MainWindow

    window = MainWindow(
        vault, settings,
        engine_factory=lambda: Engine(vault, profiles),
        profiles=lambda: profiles, secrets=lambda: store, data_dir=data,
        qsettings=QSettings(str(data / "layout.ini"), QSettings.Format.IniFormat),
        sync_interval_s=0,
    )  # fmt: skip
    # As the app does: comparisons run in the engine's own process.
    give_engine(window, EngineProcess(vault.path, lambda: profiles, actor=vault.actor))
    fill_screen(window)
    return window


def seed_registry(reg: RunningRegistry, tmp: Path) -> list[uuid.UUID]:
    """alice writes three versions, bob approves the first two, carol puts v1 in production."""
    with Vault.open(tmp / "alice.sqlite3", create=True, actor="alice") as alice:
        versions = [
            alice.commit("support/reply", REPLY_V1, "First version from the help-centre macro"),
            alice.commit("support/reply", REPLY_V2, "Friendlier tone, three sentences max"),
            alice.commit("support/reply", REPLY_V3, "Answer in the customer's language"),
        ]
        for name, template in OTHERS.items():
            content = PromptContent(
                messages=(
                    Message(role="system", template="You are precise."),
                    Message(role="user", template=template),
                ),
                model=ModelDefaults(model="gpt-4o-mini", temperature=0.2),
            )
            alice.commit(name, content, "Initial version")
        Syncer(alice, reg.client("alice")).sync()
    with Vault.open(tmp / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, reg.client("bob")).sync()
        queue_review(bob, bob.version_by_id(versions[0].id), "approve", "Matches the macro")
        queue_review(bob, bob.version_by_id(versions[1].id), "approve", "Reads much better")
        Syncer(bob, reg.client("bob")).sync()
    with reg.client("carol") as carol:
        first = LabelTarget(version_id=versions[0].id)
        carol.move_label("support/reply", "production", target=first, expected=None,
                         reason="Launch of the help centre")  # fmt: skip
    send_production_spans(reg)
    return [v.id for v in versions]


def send_production_spans(reg: RunningRegistry) -> None:
    """A production app ("shop") reports 240 calls of v1 over OTLP with the official
    OpenTelemetry SDK, so Publish shows the label's production figures."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    token = reg.service.add_user("shop", "app")
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{reg.url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("shop")
    start = time.time_ns() - 3_600 * 10**9  # an hour ago, one call every 10 s
    for i in range(240):
        at = start + i * 10 * 10**9
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 180 + i % 40, "gen_ai.usage.output_tokens": 60 + i % 25,
            "langfuse.observation.prompt.name": "support/reply",
            "langfuse.observation.prompt.version": 1,
        }  # fmt: skip
        span = tracer.start_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=at, attributes=attributes
        )
        span.end(end_time=at + (700 + (i * 37) % 900) * 10**6)
    provider.shutdown()  # flushes every span before the screenshots


def add_source(vault: Vault, data: Path) -> None:
    """One data source, as the Sources window lists it: a CSV of customers."""
    from workbench.core.sources import SourceAccess, SourceDefinition
    from workbench.vault.sources import SourceStore

    csv = data / "customers.csv"
    csv.write_text("id,name,tier,email\n1,Ada,gold,ada@example.com\n2,Grace,silver,g@example.com\n")
    SourceStore(vault).add(
        "customers",
        SourceDefinition(kind="csv", path=str(csv)),
        SourceAccess(prompts=("support/",), sensitive_fields=("email",)),
        note="The CRM's nightly export",
    )


def first_start(shots: Shots, tmp: Path, theme: str) -> None:
    data = tmp / f"first-{theme}"
    data.mkdir()
    with Vault.open(data / "vault.sqlite3", create=True, actor="ada") as vault:
        window = make_window(vault, Settings(), {"echo": ECHO_PROFILE}, MemoryStore(), data)
        shots.grab(window, "first-start")
        window.close()


def team_vault(shots: Shots, tmp: Path, theme: str, reg: RunningRegistry,
               profiles: dict[str, ProviderProfile], ids: list[uuid.UUID]) -> None:  # fmt: skip
    """Every screen of a synced vault, as carol (publisher) sees it."""
    from workbench.ui.publish import PublishDialog
    from workbench.ui.settings_dialog import SettingsDialog

    data = tmp / f"carol-{theme}"
    data.mkdir()
    store = MemoryStore()
    store.set(token_key_name(reg.url), reg.tokens["carol"])
    store.set(KEY, DEFAULT_KEY)  # the profiles' key: the window lists their models with it
    shown = [profiles[n].model_dump(mode="json") for n in ("openai", "anthropic")]
    settings = Settings(registry_url=reg.url, default_models=[*MODELS], providers=shown)
    with Vault.open(data / "vault.sqlite3", create=True, actor="carol") as vault:
        vault.set_test_cases("support/reply", CASES)
        add_source(vault, data)
        window = make_window(vault, settings, profiles, store, data)
        wait_for(window.sync.finished)  # the sync the window starts by itself
        while window.model_lists.running:  # and the profiles' model lists
            wait(50)
        window.browser.select("support/reply")
        window.tabs.setCurrentWidget(window.editor)
        shots.grab(window, "editor")

        window.tabs.setCurrentWidget(window.history)
        window.history.select_versions([0, 1])
        shots.grab(window, "history-diff")

        window.tabs.setCurrentWidget(window.testcases)
        shots.grab(window, "test-cases")

        compare = window.compare
        window.tabs.setCurrentWidget(compare)
        compare.check_only(versions=ids, models=[*MODELS])
        wait_for(compare.run_finished, compare.start_run)
        compare.results.setCurrentWidget(compare.results.summary)
        shots.grab(window, "compare-grid")
        sizes = compare.splitter.sizes()
        # The lower tabs given the height they need, as a person drags the splitter:
        # the summary's nine rows, then most of the pane for the charts.
        rows = (
            compare.results.summary.verticalHeader().length()
            + compare.results.summary.horizontalHeader().height()
        )
        below = sum(sizes[1:])
        tabs = min(below - 120, rows + compare.results.tabBar().height() + 40)
        compare.splitter.setSizes([sizes[0], below - tabs, tabs])
        shots.grab(window, "compare-summary")
        # The charts: most of the pane on a small screen, what they fill on a big one
        # (their figure is ~600 px tall; the rest stays the grid's).
        charts = min(below - 120, max(below // 2, 640 + compare.results.tabBar().height()))
        compare.splitter.setSizes([sizes[0], below - charts, charts])
        compare.results.setCurrentWidget(compare.results.charts)
        shots.grab(window, "compare-charts")
        compare.splitter.setSizes(sizes)
        model = compare.grid_model
        failing = next(
            (model.index(r, c) for r in range(model.rowCount()) for c in range(model.columnCount())
             if (cell := model.index(r, c).data(CELL_ROLE)) is not None and not cell.passed),
            model.index(0, 0),
        )  # fmt: skip
        compare.grid.setCurrentIndex(failing)
        compare.results.setCurrentWidget(compare.results.cell_view)
        shots.grab(window, "compare-cell")

        window.tabs.setCurrentWidget(window.log_tabs)
        window.log_tabs.setCurrentWidget(window.log_panel)
        window.log_panel.table.selectRow(0)
        shots.grab(window, "log")
        window.log_tabs.setCurrentWidget(window.spending)
        shots.grab(window, "spending")
        page = window.production
        wait_for(page.loaded, lambda: window.log_tabs.setCurrentWidget(page))
        page.app_name.setText("shop")  # one of the calls sent_production_spans made
        ago = datetime.now(UTC) - timedelta(hours=1) + timedelta(seconds=600)
        page.at.setText(ago.isoformat(timespec="seconds"))
        wait_for(page.loaded, page.find_served)
        shots.grab(window, "production")
        window.log_tabs.setCurrentWidget(window.log_panel)

        dialog = SettingsDialog(
            window.settings, window.secrets, window.reporter, window,
            model_cache=window.model_lists.cache,
        )  # fmt: skip
        dialog.show()
        shots.grab(dialog, "settings", screen=True)
        dialog.close()

        window.tabs.setCurrentWidget(window.review)
        window.review.reload()
        window.review.select(ids[2])
        window.review.comment.setPlainText("Good; please keep the gold-tier line.")
        shots.grab(window, "review")

        publish = window.open_publish("support/reply")
        assert isinstance(publish, PublishDialog)
        if publish.context is None:
            wait_for(publish.loaded)
        publish.version_box.setCurrentIndex(publish.version_box.findData(str(ids[1])))
        publish.reason.setText("Friendlier replies tested on three cases")
        shots.grab(publish, "publish", screen=True)
        publish.close()

        window.open_sources()
        sources = window.sources_dialog
        assert sources is not None
        sources.resize(min(1000, window.width() - 80), min(620, window.height() - 80))
        sources.table.selectRow(0)
        shots.grab(sources, "sources", screen=True)
        sources.close()

        # A decision made offline waits in the outbox until the next sync.
        queue_review(vault, vault.version_by_id(ids[2]), "request_changes",
                     "Keep the gold-tier line")  # fmt: skip
        window.sync_panel.reload_outbox()
        window.refresh_sync_state()
        window.tabs.setCurrentWidget(window.sync_panel)
        shots.grab(window, "sync")
        window.close()
        wait(100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", choices=SIZES, help="the Xvfb screen's size, WIDTHxHEIGHT")
    parser.add_argument("--theme", choices=THEMES, action="append", help="default: both")
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="wb-shots-"))
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp / "data")
    os.environ[KEY_ENV] = DEFAULT_KEY
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    app = QApplication(sys.argv[:1])
    screen = QGuiApplication.primaryScreen().geometry()
    if f"{screen.width()}x{screen.height()}" != args.size:
        print(f"the screen is {screen.width()}x{screen.height()}, not {args.size}: run under "
              f'xvfb-run -a -s "-screen 0 {args.size}x24"', file=sys.stderr)  # fmt: skip
        return 2
    total = 0
    with (
        ProviderServer(models=("gpt-4o-mini", "gpt-4o")) as server,
        ProviderServer(models=(CLAUDE, SONNET)) as anthropic_server,
    ):
        for model, script in SCRIPTS.items():
            (anthropic_server if model.startswith("claude") else server).script(model, **script)
        # No price overrides: the costs shown are genai-prices' for these models.
        openai = ProviderProfile(
            name="openai", family="openai", base_url=server.base_url("openai"), key_name=KEY,
            key_env=KEY_ENV,
        )  # fmt: skip
        claude = ProviderProfile(
            name="anthropic", family="anthropic", base_url=anthropic_server.base_url("anthropic"),
            key_name=KEY, key_env=KEY_ENV,
        )  # fmt: skip
        profiles = {"echo": ECHO_PROFILE, "openai": openai, "anthropic": claude}
        db_url = f"sqlite:///{tmp / 'registry.sqlite3'}"
        with running_registry(RegistrySettings(db_url=db_url)) as reg:
            ids = seed_registry(reg, tmp)
            for theme in args.theme or THEMES:
                apply_theme(app, theme)
                shots = Shots(args.size, theme)
                first_start(shots, tmp, theme)
                team_vault(shots, tmp, theme, reg, profiles, ids)
                total += shots.count
    print(f"{args.size}: {total} screenshots in {time.monotonic() - started:.1f} s "
          f"→ {OUT.relative_to(ROOT)}/{args.size}-*/")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
