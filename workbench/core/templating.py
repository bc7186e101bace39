"""Jinja templating for prompt messages: checking, variable discovery and rendering.

The modules under it: :mod:`workbench.core.sandbox` (the bounded Jinja environment,
compiling and rendering one template), :mod:`workbench.core.render_limits` (what one
render may take) and :mod:`workbench.core.coercion` (values to declared types).

Variables. A template's variables are the names it reads and does not set itself
(loop variables, ``{% set %}`` names and Jinja's globals such as ``range`` are not
variables). A content may also *declare* variables (``Variable``): a type, a
default, whether it is required. The rules:

* A used but undeclared variable is allowed: it is required and its value is used
  as given (from a CSV that is a string). If the content declares any variables,
  ``check_content`` reports it as a warning, because the author chose to declare.
* A declared but unused variable is a warning.
* Syntax errors, and declared defaults that do not fit their type, are errors.

``check_content`` returns both kinds as ``TemplateError`` objects with
``severity`` "error" or "warning"; ``validate_content`` raises the first error and
ignores warnings.

Rendering (``render_case``) applies declared defaults, coerces values to their
declared types, renders values that use the case's other values, ignores values no
message uses (``RenderResult.unused`` names them) and refuses (``RenderError``) when
a used variable has no value. ``None``, and an empty string for a variable of a
non-string type (a blank CSV cell), count as "not given".

Limits. Every render is bounded (see :mod:`workbench.core.render_limits`); a template
past a limit raises ``LimitExceededError``. ``check_content`` also renders each
message once with only the declared defaults, so a template that exceeds a limit
whatever its values is refused at commit and import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import suppress
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from pydantic import BaseModel, ConfigDict

from workbench.core.coercion import coerce_value, is_absent
from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import (
    MODEL_REF_RULE,
    Message,
    PromptContent,
    Role,
    split_model_ref,
)
from workbench.core.render_limits import LimitExceededError, bounded_render
from workbench.core.sandbox import (
    compile_template,
    find_variables,
    parse_template,
    render_template,
    syntax_error,
)

__all__ = [
    "RenderResult",
    "RenderedMessage",
    "check_content",
    "check_limits",
    "check_template",
    "content_variables",
    "estimate_tokens",
    "render_case",
    "render_messages",
    "size_problem",
    "template_variables",
    "validate_content",
]


class RenderedMessage(BaseModel):
    """One chat message after rendering: what is sent to a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


def _where(index: int, message: Message) -> str:
    return f"message {index + 1} ({message.role})"


def check_template(source: str, where: str = "", *, message_index: int | None = None) -> None:
    """Raise ``TemplateError`` (1-based line, Jinja's message) if ``source`` does not compile."""
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        raise syntax_error(exc, where, message_index) from None


def template_variables(source: str) -> set[str]:
    """Names the template reads and does not define itself. Raises ``TemplateError``."""
    try:
        return set(find_variables(source))
    except TemplateSyntaxError as exc:
        raise syntax_error(exc, "", None) from None


def content_variables(content: PromptContent) -> set[str]:
    """Variables used by any message of ``content``. Raises ``TemplateError``."""
    used: set[str] = set()
    for index, message in enumerate(content.messages):
        try:
            used |= find_variables(message.template)
        except TemplateSyntaxError as exc:
            raise syntax_error(exc, _where(index, message), index) from None
    return used


def _first_use_line(source: str, name: str) -> int | None:
    lines = [
        node.lineno
        for node in parse_template(source).find_all(nodes.Name)
        if node.name == name and node.ctx == "load"
    ]
    return min(lines, default=None)


def check_content(content: PromptContent, *, limits: bool = True) -> list[TemplateError]:
    """Every problem in ``content``, errors and warnings (see the module docstring).
    ``limits=False`` leaves out :func:`check_limits`, the one part that renders (up to
    its time bound): the editor runs that part off the GUI thread.

    Syntax errors come first, in message order; then variable problems sorted by name.
    Nothing is raised: the editor marks each problem at its message and line.
    """
    too_big = size_problem(content)
    if too_big is not None:  # checked first: compiling megabytes would only be slow
        return [too_big]
    problems: list[TemplateError] = []
    used: dict[str, int] = {}  # variable -> index of the first message using it
    for index, message in enumerate(content.messages):
        where = _where(index, message)
        try:
            compile_template(message.template)
            names = find_variables(message.template)
        except TemplateSyntaxError as exc:
            problems.append(syntax_error(exc, where, index))
            continue
        for name in names:
            used.setdefault(name, index)

    broken = bool(problems)
    if not broken and limits:
        problems.extend(check_limits(content))
    declared = {v.name: v for v in content.variables}
    # A binding's 'where' reads a variable: it is used (by the data source).
    read = {n for v in content.variables if v.binding for n in v.binding.where.values()}
    for name in sorted(set(declared) | set(used)):
        variable = declared.get(name)
        if variable is None:
            if declared:
                index = used[name]
                message = content.messages[index]
                problems.append(
                    TemplateError(
                        f"variable {name!r} is used but not declared",
                        line=_first_use_line(message.template, name),
                        where=_where(index, message),
                        message_index=index,
                        severity="warning",
                        rule="undeclared-variable",
                        hint=f"Declare {name!r} (it is treated as a required string until then).",
                    )
                )
            continue
        if name not in used and name not in read and not broken:  # broken: uses hidden
            problems.append(
                TemplateError(
                    f"variable {name!r} is declared but no message uses it",
                    severity="warning",
                    rule="unused-variable",
                    hint=f"Use {{{{ {name} }}}} in a message or remove the declaration.",
                )
            )
        if variable.default is not None:
            try:
                coerce_value(variable.name, variable.type, variable.default)
            except RenderError as exc:
                problems.append(
                    TemplateError(
                        f"default of {exc.message}",
                        rule="default-type",
                        hint=f"Give {name!r} a default of type {variable.type}, or none.",
                    )
                )
    problems.extend(_key_problems(content))
    for position, fallback in enumerate(content.model.fallbacks):
        try:
            split_model_ref(fallback, default_profile="primary")
        except ValueError:
            problems.append(
                TemplateError(
                    f"fallback {position + 1} is {fallback!r}: {MODEL_REF_RULE}",
                    where="model settings",
                    rule="fallback",
                    hint="Name each fallback as PROFILE:MODEL (or MODEL on the same "
                    "profile), or remove it.",
                )
            )
    return problems


def _key_problems(content: PromptContent) -> list[TemplateError]:
    """A key pasted into a message or a default: refused, so it never reaches the vault,
    a bundle or the registry (and from there every teammate's disk)."""
    from workbench.core.keys import key_shaped

    hint = (
        "Remove it: a key belongs in the keychain (workbench key set NAME, or Settings "
        "→ Providers) and reaches the model through the profile, never the prompt."
    )
    problems = []
    for index, message in enumerate(content.messages):
        for offset, shown in key_shaped(message.template):
            problems.append(
                TemplateError(
                    f"what looks like an API key or token ({shown!r}) is in the text",
                    rule="key",
                    line=message.template.count("\n", 0, offset) + 1,
                    where=_where(index, message),
                    message_index=index,
                    hint=hint,
                )
            )
    for variable in content.variables:
        if isinstance(variable.default, str) and key_shaped(variable.default):
            problems.append(
                TemplateError(
                    f"the default of {variable.name!r} looks like an API key or token",
                    rule="key",
                    where="variables",
                    hint=hint,
                )
            )
    return problems


def validate_content(content: PromptContent) -> None:
    """Raise the first error-level problem of ``content``; warnings pass."""
    for problem in check_content(content):
        if problem.severity == "error":
            raise problem


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


@lru_cache(maxsize=512)
def _probe(source: str, defaults_json: str) -> str | None:
    """A trial render with the declared defaults and every other value empty: the limit
    it exceeds whatever the values (a loop of loops, a 2 GB padding), or None."""
    try:
        render_template(source, json.loads(defaults_json), _probe=True)
    except RenderError as exc:
        return exc.message if isinstance(exc, LimitExceededError) else None
    except TemplateError:
        return None
    return None


def size_problem(content: PromptContent) -> TemplateError | None:
    """The prompt's text over :data:`MAX_PROMPT_CHARS`, naming its biggest message."""
    from workbench.core.limits import MAX_PROMPT_CHARS

    sizes = [len(m.template) for m in content.messages]
    total = sum(sizes) + sum(len(str(v.default)) for v in content.variables if v.default)
    if total <= MAX_PROMPT_CHARS:
        return None
    index = max(range(len(sizes)), key=sizes.__getitem__) if sizes else 0
    return TemplateError(
        f"the prompt is {total:,} characters; at most {MAX_PROMPT_CHARS:,} fit "
        f"(message {index + 1} alone is {sizes[index] if sizes else 0:,})",
        message_index=index if sizes else None,
        rule="size",
        hint="Keep large reference text out of the prompt: pass it in as a variable's value "
        "from a test case or your application.",
    )


def check_limits(content: PromptContent) -> list[TemplateError]:
    """Messages that exceed the rendering limits whatever the values (commit, import)."""
    defaults: dict[str, Any] = {}
    for variable in content.variables:
        if variable.default is not None:
            with suppress(RenderError):
                defaults[variable.name] = coerce_value(
                    variable.name, variable.type, variable.default
                )
    try:
        defaults_json = json.dumps(defaults, sort_keys=True, default=str)
    except (TypeError, ValueError):
        defaults_json = "{}"
    problems = []
    for index, message in enumerate(content.messages):
        try:
            compile_template(message.template)
        except TemplateSyntaxError:
            continue
        found = _probe(message.template, defaults_json)
        if found is not None:
            problems.append(
                TemplateError(
                    found,
                    where=_where(index, message),
                    message_index=index,
                    rule="render-limits",
                    hint="Loops, numbers, padding and text a template builds are bounded; "
                    "make this message do less.",
                )
            )
    return problems


class RenderResult(BaseModel):
    """Rendered messages, and the given values no message (nor a used value) needed."""

    model_config = ConfigDict(frozen=True)

    messages: list[RenderedMessage]
    unused: tuple[str, ...] = ()


_MARKUP = ("{{", "{%", "{#")


def _resolve_values(
    values: Mapping[str, Any], needed: Iterable[str]
) -> tuple[dict[str, Any], set[str]]:
    """Values as the templates see them: a text value that uses the case's variables
    (``Where is order {{ order_id }}?``) is rendered with them first. Returns the
    resolved values of ``needed`` (and what they use) and the names that were used."""
    resolved: dict[str, Any] = {}
    used: set[str] = set()
    stack: list[str] = []

    def resolve(name: str) -> Any:
        if name in resolved:
            return resolved[name]
        value = values.get(name)
        used.add(name)
        if isinstance(value, str) and any(m in value for m in _MARKUP):
            if name in stack:
                cycle = " -> ".join([*stack[stack.index(name) :], name])
                raise RenderError(
                    f"case values use each other in a circle: {cycle}",
                    invalid=[name],
                    hint="Make one of them a plain value.",
                )
            stack.append(name)
            try:
                refs = template_variables(value)
            except TemplateError as exc:
                raise RenderError(
                    f"the value of {name!r} is not a valid template: {exc.message}",
                    invalid=[name],
                    hint="Fix the {{ }} in that value, or write {{ '{{' }} for literal braces.",
                ) from None
            lacking = sorted(r for r in refs if r not in values)
            if lacking:
                raise RenderError(
                    f"the value of {name!r} uses {_names(lacking)}, which the case does not give",
                    missing=lacking,
                    hint=f"Add {_names(lacking)} to the test case.",
                )
            inner = {r: resolve(r) for r in refs}
            value = render_template(value, inner, where=f"the value of {name!r}")
            stack.pop()
        resolved[name] = value
        return value

    out = {name: resolve(name) for name in needed if values.get(name) is not None}
    return out, used


def render_case(content: PromptContent, values: Mapping[str, Any]) -> RenderResult:
    """Render every message of ``content`` with a test case's ``values``.

    One rule for compare, eval and the editor: values no message uses are ignored (and
    listed in ``unused``); a value may use the case's other values; declared defaults
    fill absent values; values are coerced to declared types. Raises ``RenderError``
    naming every missing variable and every value of the wrong type, and
    ``TemplateError`` when a message does not compile. All messages share one
    rendering budget (``RENDER_SECONDS`` and the ``MAX_*`` limits).
    """
    used = content_variables(content)
    declared = {v.name: v for v in content.variables}
    with bounded_render():
        resolved, touched = _resolve_values(values, sorted(used | set(declared)))
        missing: list[str] = []
        invalid: list[str] = []
        problems: list[str] = []
        context: dict[str, Any] = {}
        for name in sorted(used | set(declared)):
            variable = declared.get(name)
            value = resolved.get(name)
            if is_absent(variable, value):
                if variable is not None and variable.default is not None:
                    value = variable.default
                elif variable is not None and not variable.required:
                    context[name] = None
                    continue
                elif name in used:
                    missing.append(name)
                    continue
                else:
                    continue  # declared, required, unused, not given: nothing needs it
            if variable is None:
                context[name] = value
                continue
            try:
                context[name] = coerce_value(name, variable.type, value)
            except RenderError as exc:
                invalid.append(name)
                problems.append(exc.message)

        if missing or invalid:
            parts = []
            if missing:
                parts.append(f"missing value for {_names(missing)}")
            parts.extend(problems)
            raise RenderError("; ".join(parts), missing=missing, invalid=invalid)

        messages = [
            RenderedMessage(
                role=message.role,
                content=render_template(message.template, context, _where(index, message)),
            )
            for index, message in enumerate(content.messages)
        ]
    unused = tuple(sorted(set(values) - used - set(declared) - touched))
    return RenderResult(messages=messages, unused=unused)


def render_messages(content: PromptContent, values: Mapping[str, Any]) -> list[RenderedMessage]:
    """``render_case(content, values).messages``."""
    return render_case(content, values).messages


def estimate_tokens(text: str) -> int:
    """A rough token count for when a provider reports no usage: ceil(chars / 4).

    About four characters per token holds for English with common BPE tokenizers;
    it is not exact for code or other languages, so callers mark the count as
    estimated. Empty text is 0 tokens; any other text at least 1.
    """
    return -(-len(text) // 4)
