"""Write the README's screenshots: main window, diff view, compare grid with charts,
and the team side: the review queue and the publish dialog against a real registry.

Seeds a temporary vault with a few realistic prompts, runs a real comparison
against the local provider server from tests/ (a few hundred ms TTFT so the
numbers look like a real API's), and grabs the window. Run under a display:

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
CLAUDE = "claude-3-5-haiku-latest"
MODELS = ("openai:gpt-4o-mini", f"anthropic:{CLAUDE}")

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.providerserver.server import DEFAULT_KEY, ProviderServer  # noqa: E402
from tests.server.conftest import running_registry  # noqa: E402
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
from workbench.ui.theme import apply_theme  # noqa: E402
from workbench.vault import Vault  # noqa: E402

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
REPLY = (
    "Thanks for reaching out! I have checked your order and the refund was issued on "
    "Monday; it usually shows on your statement within three to five business days."
)


def seed(vault: Vault, data: Path) -> None:
    vault.commit(
        "support/reply", REPLY_V1, "First version from the help-centre macro", author="ada"
    )
    vault.commit(
        "support/reply", REPLY_V2, "Friendlier tone, three sentences max, gold tier", author="grace"
    )
    for name, template in OTHERS.items():
        content = PromptContent(
            messages=(
                Message(role="system", template="You are precise."),
                Message(role="user", template=template),
            ),
            model=ModelDefaults(model="gpt-4o-mini", temperature=0.2),
        )
        vault.commit(name, content, "Initial version", author="linus")
    vault.set_test_cases("support/reply", CASES)


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


def team_shots(tmp: Path, profiles: dict[str, ProviderProfile]) -> None:
    """The review queue and the publish dialog, as carol (publisher) sees them."""
    from workbench.ui.main_window import MainWindow
    from workbench.ui.publish import PublishDialog

    db_url = f"sqlite:///{tmp / 'registry.sqlite3'}"
    with running_registry(RegistrySettings(db_url=db_url)) as reg:
        with Vault.open(tmp / "alice.sqlite3", create=True, actor="alice") as alice:
            v1 = alice.commit("support/reply", REPLY_V1, "First version from the help-centre macro")
            v2 = alice.commit("support/reply", REPLY_V2, "Friendlier tone, three sentences max")
            alice.commit("support/reply", REPLY_V3, "Answer in the customer's language")
            for name, template in OTHERS.items():
                one = PromptContent(messages=(Message(role="user", template=template),))
                alice.commit(name, one, "Initial version")
            Syncer(alice, reg.client("alice")).sync()
        with Vault.open(tmp / "bob.sqlite3", create=True, actor="bob") as bob:
            Syncer(bob, reg.client("bob")).sync()
            queue_review(bob, bob.version_by_id(v1.id), "approve", "Matches the macro")
            queue_review(bob, bob.version_by_id(v2.id), "approve", "Reads much better")
            Syncer(bob, reg.client("bob")).sync()
        with reg.client("carol") as carol:
            carol.move_label("support/reply", "production", target=LabelTarget(version_id=v1.id),
                             expected=None, reason="Launch of the help centre")  # fmt: skip
        store = MemoryStore()
        store.set(token_key_name(reg.url), reg.tokens["carol"])
        with Vault.open(tmp / "carol.sqlite3", create=True, actor="carol") as vault:
            vault.set_test_cases("support/reply", CASES)
            window = MainWindow(
                vault, Settings(registry_url=reg.url,
                                default_models=[*MODELS]),
                engine_factory=lambda: Engine(vault, profiles, keys=lambda _p: DEFAULT_KEY),
                profiles=lambda: profiles, secrets=lambda: store, data_dir=tmp / "carol-data",
                qsettings=QSettings(str(tmp / "carol.ini"), QSettings.Format.IniFormat),
            )  # fmt: skip
            window.resize(1440, 880)
            window.show()
            loop = QEventLoop()
            window.sync.finished.connect(lambda _o: loop.quit())
            loop.exec()
            window.browser.select("support/reply")
            compare = window.compare
            compare.check_only(models=[*MODELS])
            loop = QEventLoop()
            compare.run_finished.connect(lambda _run: loop.quit())
            compare.start_run()
            loop.exec()
            window.tabs.setCurrentWidget(window.review)
            window.review.reload()
            v3 = vault.get_version("support/reply", "v3")
            window.review.select(v3.id)
            window.review.comment.setPlainText("Good; please keep the gold-tier line.")
            grab(window, "review.png")

            dialog = window.open_publish("support/reply")
            assert isinstance(dialog, PublishDialog)
            loop = QEventLoop()
            dialog.loaded.connect(lambda _c: loop.quit())
            if dialog.context is None:
                loop.exec()
            dialog.version_box.setCurrentIndex(dialog.version_box.findData(str(v2.id)))
            dialog.reason.setText("Friendlier replies tested on three cases")
            dialog.resize(980, 760)
            grab(dialog, "publish.png")
            dialog.close()
            window.close()


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(window: object, name: str) -> None:
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)
    wait(300)
    path = OUT / name
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="wb-shots-"))
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp / "data")
    app = QApplication(sys.argv[:1])
    apply_theme(app, "light")
    from workbench.ui.main_window import MainWindow

    with ProviderServer() as server:
        server.script("gpt-4o-mini", text=REPLY, ttft=0.32, chunks=12, chunk_delay=0.03,
                      input_tokens=64, output_tokens=38)  # fmt: skip
        server.script(CLAUDE, text=REPLY.replace("Thanks", "Thank you"), ttft=0.45,
                      chunks=10, chunk_delay=0.04, input_tokens=71, output_tokens=41)  # fmt: skip
        # No price overrides: the costs shown are genai-prices' for these models.
        profile = ProviderProfile(
            name="openai", family="openai", base_url=server.base_url("openai"), key_name="k",
            models=("gpt-4o-mini",),
        )  # fmt: skip
        claude = ProviderProfile(
            name="anthropic", family="anthropic", base_url=server.base_url("anthropic"),
            key_name="k", models=(CLAUDE,),
        )  # fmt: skip
        profiles = {"echo": ECHO_PROFILE, "openai": profile, "anthropic": claude}
        with Vault.open(tmp / "vault.sqlite3", create=True, actor="ada") as vault:
            seed(vault, tmp / "data")
            settings = Settings(
                default_models=[
                    "openai:gpt-4o-mini",
                    "anthropic:claude-3-5-haiku-latest",
                    "echo:echo",
                ]
            )
            window = MainWindow(
                vault, settings,
                engine_factory=lambda: Engine(vault, profiles, keys=lambda _p: DEFAULT_KEY),
                profiles=lambda: profiles, secrets=MemoryStore, data_dir=tmp / "data",
                qsettings=QSettings(str(tmp / "layout.ini"), QSettings.Format.IniFormat),
            )  # fmt: skip
            window.resize(1440, 880)
            window.show()
            window.browser.select("support/reply")
            window.tabs.setCurrentWidget(window.editor)
            grab(window, "main-window.png")

            window.tabs.setCurrentWidget(window.history)
            window.history.select_versions([0])
            grab(window, "diff.png")

            compare = window.compare
            compare.check_only(models=[*MODELS])
            compare.repeats.setValue(2)
            window.tabs.setCurrentWidget(compare)
            loop = QEventLoop()
            compare.run_finished.connect(lambda _run: loop.quit())
            compare.start_run()
            loop.exec()
            compare.tabs.setCurrentWidget(compare.charts)
            compare.splitter.setSizes([300, 520])
            grab(window, "compare.png")
            compare.tabs.setCurrentWidget(compare.summary)
            grab(window, "compare-summary.png")

            window.tabs.setCurrentWidget(window.testcases)
            grab(window, "test-cases.png")

            from workbench.ui.settings_dialog import SettingsDialog

            shown = window.settings.model_copy(
                update={"providers": [p.model_dump(mode="json") for p in (profile, claude)]}
            )
            dialog = SettingsDialog(shown, window.secrets, window.reporter, window)
            dialog.resize(900, 640)
            dialog.show()
            grab(dialog, "settings.png")
            dialog.close()
            window.close()
        team_shots(tmp, profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
