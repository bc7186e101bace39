"""Templating: syntax errors, variables, coercion, sandbox, rendering."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.core.coercion import coerce_value
from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import Message, PromptContent, Role, Variable, VariableType
from workbench.core.sandbox import render_template
from workbench.core.templating import (
    RenderedMessage,
    check_content,
    check_template,
    content_variables,
    estimate_tokens,
    render_messages,
    template_variables,
    validate_content,
)


def content(
    *templates: str | tuple[Role, str], variables: tuple[Variable, ...] = ()
) -> PromptContent:
    """A content from templates; a bare string is a user message."""
    pairs = [t if isinstance(t, tuple) else ("user", t) for t in templates]
    messages = tuple(Message(role=role, template=text) for role, text in pairs)
    return PromptContent(messages=messages, variables=variables)


# ---------------------------------------------------------------- syntax


def test_syntax_error_reports_line_and_where() -> None:
    source = "line one\nline two {{ name }}\n{% if %}\nline four\n{% endif %}"
    with pytest.raises(TemplateError) as info:
        check_template(source, where="message 2 (user)")
    err = info.value
    assert err.line == 3
    assert err.where == "message 2 (user)"
    assert "message 2 (user) line 3" in str(err)
    assert "expected an expression" in err.detail.lower()
    assert err.hint


def test_unknown_filter_is_a_template_error_with_line() -> None:
    with pytest.raises(TemplateError) as info:
        check_template("ok\n{{ x | no_such_filter }}")
    assert info.value.line == 2
    assert "no_such_filter" in str(info.value)


def test_valid_template_passes() -> None:
    check_template("Hello {{ name }}{% for i in items %}{{ i }}{% endfor %}")


def test_template_variables_exclude_loop_set_and_globals() -> None:
    source = (
        "{% set greeting = 'hi' %}{{ greeting }} {{ user.name }}"
        "{% for item in items %}{{ item }}{{ loop.index }}{% endfor %}{{ range(3) | list }}"
    )
    assert template_variables(source) == {"user", "items"}


def test_template_variables_of_broken_template_raise() -> None:
    with pytest.raises(TemplateError):
        template_variables("{{ unclosed")


def test_content_variables_span_all_messages() -> None:
    c = content(("system", "You are {{ persona }}."), "Question: {{ question }} {{ persona }}")
    assert content_variables(c) == {"persona", "question"}


def test_check_content_lists_every_syntax_error_per_message() -> None:
    c = content(("system", "fine {{ a }}"), "ok\n{{ broken", ("assistant", "x\ny\n{% endfor %}"))
    problems = check_content(c)
    assert [(p.message_index, p.line, p.severity) for p in problems] == [
        (1, 2, "error"),
        (2, 3, "error"),
    ]
    assert problems[0].where == "message 2 (user)"
    with pytest.raises(TemplateError) as info:
        validate_content(c)
    assert info.value.message_index == 1


def test_check_content_without_declarations_is_silent_about_variables() -> None:
    assert check_content(content("Hi {{ name }}")) == []


def test_check_content_warns_on_declared_unused_and_used_undeclared() -> None:
    c = content(
        "Hi {{ name }}\nTopic: {{ topic }}",
        variables=(Variable(name="name"), Variable(name="spare")),
    )
    problems = check_content(c)
    assert all(p.severity == "warning" for p in problems)
    by_text = {p.detail: p for p in problems}
    assert set(by_text) == {
        "variable 'spare' is declared but no message uses it",
        "variable 'topic' is used but not declared",
    }
    undeclared = by_text["variable 'topic' is used but not declared"]
    assert (undeclared.message_index, undeclared.line) == (0, 2)
    validate_content(c)  # warnings do not block


def test_check_content_reports_default_of_wrong_type() -> None:
    c = content("{{ n }}", variables=(Variable(name="n", type="integer", default="many"),))
    problems = check_content(c)
    assert len(problems) == 1
    assert problems[0].severity == "error"
    assert "'n'" in problems[0].message
    assert "integer" in problems[0].message


# ---------------------------------------------------------------- coercion


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("string", "text", "text"),
        ("string", 7, "7"),
        ("integer", " 42 ", 42),
        ("integer", "-3", -3),
        ("integer", 5.0, 5),
        ("number", "0.25", 0.25),
        ("number", "3", 3),
        ("number", 1.5, 1.5),
        ("boolean", "true", True),
        ("boolean", "No", False),
        ("boolean", "YES", True),
        ("boolean", "0", False),
        ("boolean", "1", True),
        ("boolean", 0, False),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("json", "null", None),
        ("json", [1, 2], [1, 2]),
    ],
)
def test_coerce_value(type_: VariableType, raw: Any, expected: Any) -> None:
    result = coerce_value("v", type_, raw)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("integer", "4.5"),
        ("integer", "four"),
        ("integer", True),
        ("number", "abc"),
        ("number", "nan"),
        ("number", "inf"),
        ("boolean", "maybe"),
        ("boolean", 2),
        ("json", "{not json"),
        ("string", {"a": 1}),
    ],
)
def test_coerce_value_refuses_with_name_and_type(type_: VariableType, raw: Any) -> None:
    with pytest.raises(RenderError) as info:
        coerce_value("count", type_, raw)
    assert "'count'" in str(info.value)
    assert type_ in str(info.value)
    assert info.value.invalid == ["count"]


# ---------------------------------------------------------------- rendering


def test_render_applies_defaults_and_coerces_csv_strings() -> None:
    c = content(
        ("system", "Tone: {{ tone }}."),
        "n+1={{ n + 1 }} flag={{ 'on' if flag else 'off' }} first={{ data.words[0] }}",
        variables=(
            Variable(name="tone", default="friendly"),
            Variable(name="n", type="integer"),
            Variable(name="flag", type="boolean", default="no"),
            Variable(name="data", type="json"),
        ),
    )
    rendered = render_messages(c, {"n": "41", "data": '{"words": ["x"]}'})
    assert rendered == [
        RenderedMessage(role="system", content="Tone: friendly."),
        RenderedMessage(role="user", content="n+1=42 flag=off first=x"),
    ]
    again = render_messages(c, {"n": 1, "data": {"words": [9]}, "tone": "dry", "flag": "yes"})
    assert [m.content for m in again] == ["Tone: dry.", "n+1=2 flag=on first=9"]


def test_optional_variable_without_default_renders_empty() -> None:
    c = content(
        "A{{ note }}B{% if note %}!{% endif %}",
        variables=(Variable(name="note", required=False),),
    )
    assert render_messages(c, {})[0].content == "AB"


def test_blank_csv_cell_for_typed_variable_takes_default() -> None:
    c = content("{{ n }}", variables=(Variable(name="n", type="integer", default=3),))
    assert render_messages(c, {"n": ""})[0].content == "3"


def test_keeps_trailing_newline_and_does_not_escape() -> None:
    c = content("<b>{{ x }}</b> & done\n")
    assert render_messages(c, {"x": "<i>"})[0].content == "<b><i></b> & done\n"


def test_render_names_all_missing_sorted_and_ignores_unused() -> None:
    c = content(("system", "{{ zeta }} {{ alpha }}"), "{{ mid }}")
    with pytest.raises(RenderError) as info:
        render_messages(c, {"mid": "ok", "zz_extra": 1, "aa_extra": 2})
    err = info.value
    assert err.missing == ["alpha", "zeta"]
    assert err.unknown == []
    assert "alpha, zeta" in str(err)
    assert "extra" not in str(err)


def test_render_names_every_badly_typed_value() -> None:
    c = content(
        "{{ a }} {{ b }} {{ c }}",
        variables=(Variable(name="a", type="integer"), Variable(name="b", type="boolean")),
    )
    with pytest.raises(RenderError) as info:
        render_messages(c, {"a": "x", "b": "perhaps", "c": "fine"})
    assert info.value.invalid == ["a", "b"]
    assert "'a' expects integer" in str(info.value)
    assert "'b' expects boolean" in str(info.value)


def test_declared_but_unused_value_is_not_unknown() -> None:
    c = content("hi", variables=(Variable(name="spare"),))
    assert render_messages(c, {"spare": "x"})[0].content == "hi"


def test_strict_undefined_attribute_is_an_error() -> None:
    c = content("line\nHello {{ user.name }}")
    with pytest.raises(RenderError) as info:
        render_messages(c, {"user": {"id": 3}})
    assert "message 1 (user) line 2" in str(info.value)
    assert "name" in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ x.__class__.__base__.__subclasses__() }}",
        "{{ x.append(1) }}",
    ],
)
def test_sandbox_refuses_escapes(source: str) -> None:
    with pytest.raises(RenderError) as info:
        render_template(source, {"x": [1]}, where="message 1 (user)")
    assert "refused by the template sandbox" in str(info.value)
    assert info.value.hint


def test_runtime_error_in_expression_is_render_error() -> None:
    with pytest.raises(RenderError) as info:
        render_template("a\nb\n{{ 1 / n }}", {"n": 0})
    assert "line 3" in str(info.value)
    assert "ZeroDivisionError" in str(info.value)


def test_render_of_broken_template_is_template_error() -> None:
    with pytest.raises(TemplateError):
        render_messages(content("{% for %}"), {})


def test_rendering_many_cells_reuses_compiled_templates() -> None:
    c = content(("system", "You answer in {{ lang }}."), "Q{{ i }}: {{ q }}")
    outputs = {
        render_messages(c, {"lang": "en", "i": str(i), "q": f"question {i}"})[1].content
        for i in range(300)
    }
    assert len(outputs) == 300
    assert "Q7: question 7" in outputs


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


# ---- keys never go into a prompt -------------------------------------------------------


def test_a_key_pasted_into_a_template_or_default_is_refused_naming_where() -> None:
    from workbench.core.models import Message, PromptContent, Variable
    from workbench.core.templating import check_content

    key = "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8x"  # split: no key-shaped literal here
    content = PromptContent(
        messages=(
            Message(role="system", template="You help.\nUse the key " + key + " to call."),
            Message(role="user", template="{{ q }}"),
        ),
        variables=(Variable(name="q", default="AIza" + "SyA1234567890abcdefghijklmnopqrstu"),),
    )
    errors = [p for p in check_content(content) if p.severity == "error"]
    assert len(errors) == 2
    first = errors[0]
    assert first.message_index == 0 and first.line == 2
    assert "looks like an API key" in first.message and key not in first.message
    assert "'sk-pro…8x'" in first.message and "keychain" in first.hint
    assert "default of 'q'" in errors[1].message
    # Words that merely start like a key are fine.
    plain = PromptContent(messages=(Message(role="user", template="use sk-learn-style names"),))
    assert [p for p in check_content(plain) if p.severity == "error"] == []
