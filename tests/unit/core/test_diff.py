"""Version diffs: message alignment, line ops, character spans, settings, views."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.diff import LineOp, char_spans, diff_contents
from workbench.core.diff_views import side_by_side_rows, unified_diff_text
from workbench.core.models import Message, ModelDefaults, PromptContent, Role, Variable

SYSTEM = Message(role="system", template="You are a support agent.\nBe brief.\nSign as {{ team }}.")
USER = Message(role="user", template="Customer: {{ name }}\nQuestion: {{ question }}")


def make(
    *messages: Message,
    model: ModelDefaults | None = None,
    variables: tuple[Variable, ...] = (),
    tags: tuple[str, ...] = (),
) -> PromptContent:
    return PromptContent(
        messages=messages, model=model or ModelDefaults(), variables=variables, tags=tags
    )


def test_identical_contents_give_empty_diff_and_no_text() -> None:
    c = make(SYSTEM, USER, tags=("support",))
    diff = diff_contents(c, c)
    assert diff.is_empty
    assert [m.status for m in diff.messages] == ["unchanged", "unchanged"]
    assert unified_diff_text(c, c) == ""


def test_inserted_message_does_not_mark_later_ones_changed() -> None:
    example = Message(role="assistant", template="Example answer.")
    old = make(SYSTEM, USER)
    new = make(SYSTEM, example, USER)
    diff = diff_contents(old, new)
    assert [(m.status, m.old_index, m.new_index) for m in diff.messages] == [
        ("unchanged", 0, 0),
        ("added", None, 1),
        ("unchanged", 1, 2),
    ]
    added = diff.messages[1]
    assert added.lines == (LineOp("insert", None, 1, None, "Example answer."),)
    assert added.title == "message 2 (assistant)"


def test_removed_message() -> None:
    diff = diff_contents(make(SYSTEM, USER), make(USER))
    assert [(m.status, m.old_index, m.new_index) for m in diff.messages] == [
        ("removed", 0, None),
        ("unchanged", 1, 0),
    ]
    assert all(op.kind == "delete" for op in diff.messages[0].lines)
    assert len(diff.messages[0].lines) == 3


def test_changed_message_line_ops_and_spans() -> None:
    new_system = Message(
        role="system", template="You are a support agent.\nBe very brief.\nSign as {{ team }}."
    )
    diff = diff_contents(make(SYSTEM, USER), make(new_system, USER))
    changed = diff.messages[0]
    assert changed.status == "changed"
    assert [op.kind for op in changed.lines] == ["equal", "replace", "equal"]
    replace = changed.lines[1]
    assert (replace.old_lineno, replace.new_lineno) == (2, 2)
    assert replace.old_spans == ()
    assert replace.new_spans == ((2, 7),)
    assert replace.new_text is not None
    assert replace.new_text[2:7] == " very"


def test_role_change_is_removed_plus_added() -> None:
    old = make(Message(role="user", template="Hi"))
    new = make(Message(role="assistant", template="Hi"))
    statuses = [m.status for m in diff_contents(old, new).messages]
    assert statuses == ["removed", "added"]


def test_same_role_messages_pair_with_their_most_similar_edit() -> None:
    question = "Context: {{ ctx }}\nQuestion: {{ q }}\nAnswer briefly."
    edited = "Context: {{ ctx }}\nQuestion: {{ q }}\nAnswer in one line."
    old = make(SYSTEM, Message(role="user", template=question))
    new = make(
        SYSTEM,
        Message(role="user", template="Here is an example."),
        Message(role="user", template=edited),
    )
    got = [(m.status, m.old_index, m.new_index) for m in diff_contents(old, new).messages]
    assert got == [("unchanged", 0, 0), ("added", None, 1), ("changed", 1, 2)]


def test_long_lines_get_word_spans() -> None:
    words = " ".join(f"word{i}" for i in range(300))
    old_spans, new_spans = char_spans(words, words.replace("word150", "changed"))
    start = words.index("word150")
    assert old_spans == ((start, start + len("word150")),)
    assert new_spans == ((start, start + len("changed")),)


def test_trailing_newline_change_is_visible() -> None:
    old = make(Message(role="user", template="Hi"))
    new = make(Message(role="user", template="Hi\n"))
    diff = diff_contents(old, new)
    assert not diff.is_empty
    assert [op.kind for op in diff.messages[0].lines] == ["equal", "insert"]


def test_char_spans_known_examples() -> None:
    assert char_spans("Hello world", "Hello there world") == ((), ((6, 12),))
    assert char_spans("temperature 0.2", "temperature 0.7") == (((14, 15),), ((14, 15),))
    # A two-character coincidence ("te" in string/integer) is not shown as unchanged.
    old_spans, new_spans = char_spans("type string here", "type integer here")
    assert old_spans == ((5, 11),)
    assert new_spans == ((5, 12),)


def test_parameter_variable_and_tag_changes() -> None:
    old = make(
        USER,
        model=ModelDefaults(model="gpt-4o", temperature=0.2, stop=("END",)),
        variables=(Variable(name="name"), Variable(name="question"), Variable(name="old_one")),
        tags=("support", "beta"),
    )
    new = make(
        USER,
        model=ModelDefaults(model="gpt-4o-mini", temperature=0.2, max_tokens=300),
        variables=(
            Variable(name="name", description="Customer's first name"),
            Variable(name="question", type="json", required=False),
            Variable(name="tone", default="warm"),
        ),
        tags=("support", "ga"),
    )
    diff = diff_contents(old, new)
    assert not diff.is_empty
    assert [(p.key, p.old, p.new) for p in diff.params] == [
        ("model", "gpt-4o", "gpt-4o-mini"),
        ("max_tokens", None, 300),
        ("stop", ("END",), ()),
    ]
    assert [(v.name, v.kind, v.fields) for v in diff.variables] == [
        ("name", "changed", ("description",)),
        ("old_one", "removed", ()),
        ("question", "changed", ("type", "required")),
        ("tone", "added", ()),
    ]
    assert diff.tags_added == ("ga",)
    assert diff.tags_removed == ("beta",)

    text = unified_diff_text(old, new, "support/reply v1", "support/reply v2")
    lines = text.splitlines()
    assert lines[:2] == ["--- support/reply v1", "+++ support/reply v2"]
    assert '~ model: "gpt-4o" -> "gpt-4o-mini"' in lines
    assert "~ max_tokens: (unset) -> 300" in lines
    assert "- old_one (string, required)" in lines
    assert '+ tone (string, required, default "warm")' in lines
    assert '~ question: type "string" -> "json"; required true -> false' in lines
    assert "+ ga" in lines
    assert "- beta" in lines
    assert "## message" not in text  # the messages did not change


def test_unified_text_shows_message_hunks() -> None:
    new_user = Message(role="user", template="Customer: {{ name }}\nQuestion: {{ question }}?")
    text = unified_diff_text(make(SYSTEM, USER), make(SYSTEM, new_user))
    assert text.splitlines() == [
        "--- old",
        "+++ new",
        "## message 2 (user): changed",
        "@@ -1,2 +1,2 @@",
        " Customer: {{ name }}",
        "-Question: {{ question }}",
        "+Question: {{ question }}?",
    ]


def test_side_by_side_rows() -> None:
    new_system = Message(role="system", template="You are a support agent.\nBe kind.")
    diff = diff_contents(
        make(SYSTEM, model=ModelDefaults(temperature=0.2)),
        make(new_system, USER, model=ModelDefaults(temperature=0.7)),
    )
    rows = side_by_side_rows(diff)
    summary = [(r.kind, r.left, r.right) for r in rows]
    assert summary == [
        ("header", "message 1 (system)", "message 1 (system)"),
        ("equal", "You are a support agent.", "You are a support agent."),
        ("replace", "Be brief.", "Be kind."),
        ("delete", "Sign as {{ team }}.", None),
        ("header", "", "message 2 (user)"),
        ("insert", None, "Customer: {{ name }}"),
        ("insert", None, "Question: {{ question }}"),
        ("header", "parameters", "parameters"),
        ("replace", "temperature: 0.2", "temperature: 0.7"),
    ]
    replace = rows[2]
    assert replace.left is not None
    assert replace.right is not None
    assert [replace.left[a:b] for a, b in replace.left_spans] == ["brief"]
    assert [replace.right[a:b] for a, b in replace.right_spans] == ["kind"]
    assert (replace.left_lineno, replace.right_lineno) == (2, 2)
    assert rows[-1].left_spans == ((15, 16),)


# ---------------------------------------------------------------- properties

_text = st.text(alphabet=st.sampled_from("ab {}\n"), max_size=12)
_roles: st.SearchStrategy[Role] = st.sampled_from(["system", "user", "assistant"])
_messages = st.builds(Message, role=_roles, template=_text)
_models = st.builds(
    ModelDefaults,
    model=st.none() | st.sampled_from(["m1", "m2"]),
    temperature=st.none() | st.sampled_from([0.0, 0.5, 1.0]),
    max_tokens=st.none() | st.integers(1, 3),
    stop=st.lists(st.sampled_from(["x", "y"]), max_size=2).map(tuple),
    response_format=st.none() | st.sampled_from(["text", "json_object"]),
)
_variables = st.lists(
    st.builds(
        Variable,
        name=st.sampled_from(["a", "b", "c"]),
        type=st.sampled_from(["string", "integer"]),
        required=st.booleans(),
    ),
    max_size=3,
    unique_by=lambda v: v.name,
).map(tuple)
_contents = st.builds(
    PromptContent,
    messages=st.lists(_messages, min_size=1, max_size=4).map(tuple),
    model=_models,
    variables=_variables,
    tags=st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=3).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(_contents)
def test_property_diff_with_itself_is_empty(c: PromptContent) -> None:
    assert diff_contents(c, c).is_empty
    assert unified_diff_text(c, c) == ""


@settings(max_examples=150, deadline=None)
@given(_contents, _contents)
def test_property_unified_text_mentions_every_change(a: PromptContent, b: PromptContent) -> None:
    diff = diff_contents(a, b)
    text = unified_diff_text(a, b)
    assert diff.is_empty == (a == b)
    assert (text == "") == diff.is_empty
    for param in diff.params:
        assert f"~ {param.key}: " in text
    for change in diff.variables:
        assert change.name in text
    for message in diff.changed_messages:
        assert f"## {message.title}: {message.status}" in text
    rows = side_by_side_rows(diff)
    left = [r.left for r in rows if r.kind != "header" and r.left_lineno is not None]
    right = [r.right for r in rows if r.kind != "header" and r.right_lineno is not None]
    assert left == [line for m in a.messages for line in m.template.split("\n")]
    assert right == [line for m in b.messages for line in m.template.split("\n")]
