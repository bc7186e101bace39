"""Many prompts' versions and suites in one transaction: a change planned against a
head that moved refuses the whole batch, and nothing of it is written."""

from __future__ import annotations

import pytest

from workbench.core.errors import ConflictError
from workbench.core.models import Message, PromptContent
from workbench.core.runs import TestCase
from workbench.vault import Vault
from workbench.vault.batch import Change, apply_changes


def _content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def test_changes_land_together_with_parents_and_audit(vault: Vault) -> None:
    old = vault.commit("b", _content("one"), "first")
    done = apply_changes(
        vault,
        [
            Change("a", _content("new"), [TestCase(name="x", values={"q": 1})], None),
            Change("b", _content("two"), None, old.id),
            Change("c", None, [TestCase(name="y")], None),
        ],
        "import from git",
    )
    assert [(v.prompt, v.message) for v in done] == [
        ("a", "import from git"),
        ("b", "import from git"),
    ]
    assert vault.get_version("b").parent_ids == (old.id,)
    assert vault.get_version("b").display_number.startswith("draft 2")
    assert vault.test_cases("a")[0].values == {"q": 1} and vault.test_cases("c")[0].name == "y"
    assert vault.verify_audit() is None
    actions = [e.action for e in vault.audit_events()][-6:]
    assert actions == [
        "prompt.create",
        "version.commit",
        "cases.set",
        "version.commit",
        "prompt.create",
        "cases.set",
    ]


def test_a_head_that_moved_refuses_the_whole_batch(vault: Vault) -> None:
    first = vault.commit("b", _content("one"), "first")
    vault.commit("b", _content("two"), "someone else")  # lands after the plan
    events = len(vault.audit_events())
    with pytest.raises(ConflictError, match="got a new version while this import ran"):
        apply_changes(
            vault,
            [
                Change("a", _content("new"), None, None),
                Change("b", _content("three"), None, first.id),
            ],
            "import",
        )
    assert "a" not in vault.prompt_names() and len(vault.history("b")) == 2
    assert len(vault.audit_events()) == events
