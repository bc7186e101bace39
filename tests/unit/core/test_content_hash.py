"""content_hash: stable under reordering that does not change meaning, sensitive to edits."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.models import (
    Binding,
    Message,
    ModelDefaults,
    PromptContent,
    Variable,
    canonical_json,
)

MESSAGES = (
    Message(role="system", template="You are {{ persona }}."),
    Message(role="user", template="{{ question }}"),
)
VARIABLES = (
    Variable(name="persona", default="helpful"),
    Variable(name="question", description="What the user asks"),
)


def test_hash_ignores_tag_and_variable_order_and_duplicates() -> None:
    a = PromptContent(messages=MESSAGES, variables=VARIABLES, tags=("b", "a", "c"))
    b = PromptContent(messages=MESSAGES, variables=VARIABLES[::-1], tags=("c", "a", "b", "a"))
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64


def test_hash_is_stable_across_round_trip() -> None:
    a = PromptContent(messages=MESSAGES, model=ModelDefaults(model="m", temperature=0.3))
    b = PromptContent.model_validate_json(a.model_dump_json())
    assert a.content_hash() == b.content_hash()


def test_unset_parameters_do_not_change_hash() -> None:
    a = PromptContent(messages=MESSAGES)
    b = PromptContent(messages=MESSAGES, model=ModelDefaults(stop=(), model=None))
    assert a.content_hash() == b.content_hash()


def test_message_order_changes_hash() -> None:
    a = PromptContent(messages=MESSAGES)
    b = PromptContent(messages=MESSAGES[::-1])
    assert a.content_hash() != b.content_hash()


@settings(max_examples=100, deadline=None)
@given(index=st.integers(0, 1), edit=st.text(min_size=1, max_size=5))
def test_any_template_change_changes_hash(index: int, edit: str) -> None:
    base = PromptContent(messages=MESSAGES)
    messages = list(MESSAGES)
    messages[index] = Message(role=messages[index].role, template=messages[index].template + edit)
    assert PromptContent(messages=tuple(messages)).content_hash() != base.content_hash()


def test_parameter_variable_and_tag_changes_change_hash() -> None:
    base = PromptContent(messages=MESSAGES, variables=VARIABLES, tags=("a",))
    hashes = {
        base.content_hash(),
        base.model_copy(update={"model": ModelDefaults(temperature=0.5)}).content_hash(),
        base.model_copy(update={"tags": ("b",)}).content_hash(),
        PromptContent(
            messages=MESSAGES,
            variables=(VARIABLES[0], Variable(name="question", type="json")),
            tags=("a",),
        ).content_hash(),
    }
    assert len(hashes) == 4


PLAIN = PromptContent(
    messages=(Message(role="user", template="{{ q }}"),), variables=(Variable(name="q"),)
)


def _hash_before_the_new_fields(content: PromptContent) -> str:
    """The hash of the canonical form as it was before variables had a sensitivity and a
    binding: versions made then must keep their hash."""
    before = {
        "messages": [m.model_dump(mode="json") for m in content.messages],
        "model": content.model.canonical(),
        "variables": [
            v.model_dump(mode="json", exclude={"sensitivity", "binding"}) for v in content.variables
        ],
        "tags": [],
    }
    return hashlib.sha256(canonical_json(before)).hexdigest()


def test_hashes_of_versions_without_sensitivity_stay_as_they_were() -> None:
    assert PLAIN.content_hash() == _hash_before_the_new_fields(PLAIN)
    marked = PromptContent(
        messages=PLAIN.messages, variables=(Variable(name="q", sensitivity="sensitive"),)
    )
    assert marked.content_hash() != PLAIN.content_hash()
    assert marked.canonical()["variables"][0]["sensitivity"] == "sensitive"


def test_hashes_of_versions_without_bindings_stay_as_they_were() -> None:
    assert PLAIN.content_hash() == _hash_before_the_new_fields(PLAIN)
    bound = PromptContent(
        messages=PLAIN.messages,
        variables=(Variable(name="q", binding=Binding(source="crm", field="q")),),
    )
    assert bound.content_hash() != PLAIN.content_hash()
    pinned = bound.model_copy(
        update={
            "variables": (
                Variable(name="q", binding=Binding(source="crm", field="q", pin="a" * 64)),
            )
        }
    )
    assert pinned.content_hash() != bound.content_hash()  # the pin is content
