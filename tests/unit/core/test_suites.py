"""The suite hash: stable, blind to None fields and case order, apart from the prompt."""

from __future__ import annotations

import hashlib

from workbench.core.assertions import Assertion
from workbench.core.models import Message, PromptContent, canonical_json
from workbench.core.runs import TestCase, cases_or_defaults
from workbench.core.suites import diff_suites, run_suite_hash, stored_suite, suite_hash

RESET = TestCase(
    name="reset",
    values={"question": "How?"},
    assertions=(Assertion(type="contains", value="password"),),
)
REFUND = TestCase(name="refund", values={"question": "Refund?"})

PINNED = "6fe83154d8f3e821f39d8e9c49624824ded25e360d5f0e699b69e409a0a0f780"
"""The hash of (RESET, REFUND) when suites began travelling: it must never move, or
every approval that names it would stop matching its suite."""


def test_the_hash_is_pinned_and_spelled_out() -> None:
    assert suite_hash((RESET, REFUND)) == PINNED
    written = [
        {"assertions": [], "name": "refund", "values": {"question": "Refund?"}},
        {
            "assertions": [{"ignore_case": False, "type": "contains", "value": "password"}],
            "name": "reset",
            "values": {"question": "How?"},
        },
    ]
    assert hashlib.sha256(canonical_json(written)).hexdigest() == PINNED


def test_none_fields_are_left_out_so_new_optional_fields_move_no_hash() -> None:
    dumped = stored_suite((RESET,))[0]["assertions"][0]
    assert set(dumped) == {"type", "value", "ignore_case"}  # no threshold/model/scale/prompt
    graded = TestCase(
        name="reset",
        values={"question": "How?"},
        assertions=(Assertion(type="rubric", value="polite", model="echo:echo", threshold=7),),
    )
    assert stored_suite((graded,))[0]["assertions"][0]["model"] == "echo:echo"
    assert suite_hash((graded, REFUND)) != PINNED


def test_order_does_not_count_but_every_value_and_check_does() -> None:
    assert suite_hash((REFUND, RESET)) == PINNED
    assert [c["name"] for c in stored_suite((RESET, REFUND))] == ["reset", "refund"]
    changed_value = REFUND.model_copy(update={"values": {"question": "Refund??"}})
    stricter = RESET.model_copy(
        update={"assertions": (*RESET.assertions, Assertion(type="max_chars", value=300))}
    )
    hashes = {
        PINNED,
        suite_hash((RESET, changed_value)),
        suite_hash((stricter, REFUND)),
        suite_hash((RESET,)),
    }
    assert len(hashes) == 4


def test_no_cases_is_no_suite_and_a_defaults_run_ran_none() -> None:
    assert suite_hash(()) is None
    assert run_suite_hash(cases_or_defaults(())) is None
    assert run_suite_hash((RESET, REFUND)) == PINNED


def test_the_suite_is_not_in_the_prompts_content_hash() -> None:
    content = PromptContent(messages=(Message(role="user", template="{{ question }}"),))
    before = content.content_hash()
    assert suite_hash((RESET,)) != suite_hash((RESET, REFUND))
    assert content.content_hash() == before  # cases change, the version does not


def test_the_diff_names_cases_added_removed_and_changed() -> None:
    stricter = RESET.model_copy(
        update={"assertions": (Assertion(type="contains", value="password", ignore_case=True),)}
    )
    new = TestCase(name="cancel", values={"question": "Cancel?"})
    diff = diff_suites((RESET, REFUND), (stricter, new))
    assert (diff.added, diff.removed, diff.changed) == (("cancel",), ("refund",), ("reset",))
    assert diff.lines() == ["+ cancel", "- refund", "~ reset"]
    assert diff.summary() == "1 added, 1 removed, 1 changed"
    assert diff_suites((RESET, REFUND), (REFUND, RESET)).empty
