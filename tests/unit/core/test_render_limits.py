"""Template bombs end fast with a clear error; the variable rule; bounded regexes.

"Fast" is measured in CPU seconds of this process (``time.process_time``), not wall
time: a bomb that ran would burn CPU far past the bound, while a loaded machine only
stretches the wall clock.
"""

from __future__ import annotations

import time

import pytest

from workbench.core.assertions import Assertion, check
from workbench.core.errors import InputError, RenderError
from workbench.core.models import Message, PromptContent
from workbench.core.render_limits import LimitExceededError
from workbench.core.sandbox import render_template
from workbench.core.templating import (
    check_content,
    render_case,
    validate_content,
)

BOMBS = [
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{{ ((9**1000)**1000)**1000 > 1 }}",
    "{{ lipsum(n=10000000) }}",
    "{{ '{:>2000000000}'.format('x') }}",
    "{{ x|center(2000000000)|length }}",
    "{{ 'x'|center(2000000000) }}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{{ range(10)|slice(2000000000)|list|length }}",
    "{{ '%2000000000s' % 'x' }}",
    "{{ [['x' * 1000000] * 1000] * 1000 }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ 'x'.encode().zfill(2000000000) }}",
    "{{ 'x'|indent(2000000000) }}",
    "{{ ('x' * 1000000)|replace('x', 'xxxxxxxxxxxxxxxxxxxx') }}",
    "{{ '{:.2000000000f}'.format(1.0) }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 9999999 }}",
]


def _content(source: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=source),))


@pytest.mark.parametrize("source", BOMBS)
def test_each_bomb_is_refused_within_two_seconds(source: str) -> None:
    start = time.process_time()
    with pytest.raises(LimitExceededError) as info:
        render_template(source, {"x": "x"}, where="message 1 (user)")
    assert time.process_time() - start < 2
    assert "the template exceeds the rendering limit: " in info.value.message
    assert info.value.message.endswith("; simplify it")


@pytest.mark.parametrize("source", BOMBS)
def test_commit_check_refuses_each_bomb_within_two_seconds(source: str) -> None:
    start = time.process_time()
    problems = [p for p in check_content(_content(source)) if p.severity == "error"]
    assert time.process_time() - start < 2
    assert problems and "exceeds the rendering limit" in problems[0].message
    with pytest.raises(InputError, match="exceeds the rendering limit"):
        validate_content(_content(source))


def test_ordinary_templates_still_render() -> None:
    source = (
        "{% for i in range(1000) %}{{ i }}{% endfor %}|{{ x|center(9) }}|{{ '{:>5}'.format(7) }}"
        "|{{ 2 ** 64 }}|{{ 'ab' * 3 }}|{{ [1, 2]|join(',') }}|{{ 'a' ~ 'b' }}|{{ '%5s' % 'y' }}"
    )
    out = render_template(source, {"x": "x"})
    assert out.startswith("0123456789")
    assert out.endswith("|    x    |    7|18446744073709551616|ababab|1,2|ab|    y")


def test_value_dependent_loop_passes_commit_but_is_bounded_at_render() -> None:
    c = _content("{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}")
    assert [p for p in check_content(c) if p.severity == "error"] == []
    start = time.process_time()
    with pytest.raises(LimitExceededError):
        render_case(c, {"n": 100000})
    assert time.process_time() - start < 2


def test_values_a_version_does_not_use_are_ignored_and_listed() -> None:
    result = render_case(_content("Hi {{ name }}"), {"name": "Ann", "tier": "gold"})
    assert result.messages[0].content == "Hi Ann"
    assert result.unused == ("tier",)


def test_missing_values_are_named() -> None:
    with pytest.raises(RenderError) as info:
        render_case(_content("{{ a }} {{ b }}"), {"b": 1, "tier": "x"})
    assert info.value.missing == ["a"]
    assert "missing value for a" in info.value.message


def test_case_values_use_the_case_variables() -> None:
    values = {"question": "Where is my refund for order {{ order_id }}?", "order_id": 1182}
    result = render_case(_content("{{ question }}"), values)
    assert result.messages[0].content == "Where is my refund for order 1182?"
    assert result.unused == ()


def test_case_values_in_a_circle_are_an_error() -> None:
    with pytest.raises(RenderError, match="circle: a -> b -> a"):
        render_case(_content("{{ a }}"), {"a": "{{ b }}", "b": "{{ a }}"})


def test_case_value_naming_an_absent_variable_is_an_error() -> None:
    with pytest.raises(RenderError, match="uses order_id, which the case does not give"):
        render_case(_content("{{ q }}"), {"q": "order {{ order_id }}"})


def test_regex_that_backtracks_fails_its_check_within_two_seconds() -> None:
    start = time.process_time()
    result = check(Assertion(type="regex", value="(a|aa)+$"), "a" * 34 + "!")
    assert time.process_time() - start < 2
    assert not result.passed
    assert "did not finish within" in result.detail


def test_nested_quantifier_from_the_issue_is_answered() -> None:
    start = time.process_time()
    result = check(Assertion(type="regex", value="(a+)+$"), "a" * 34 + "!")
    assert time.process_time() - start < 2
    assert not result.passed
    assert result.detail == "no match for /(a+)+$/"
    assert check(Assertion(type="regex", value="(a+)+$"), "b" + "a" * 34).passed
