"""Jinja templating for prompt messages: checking, variable discovery and rendering.

Prompts are text, not HTML, so autoescape is off. Everything else leans to safety:

* ``ImmutableSandboxedEnvironment``: templates come from teammates and from the
  registry, so they may not reach Python internals (``''.__class__``) nor mutate
  the values they are given. Repetition and power operators are capped so one
  template cannot eat the machine.
* ``StrictUndefined``: a missing variable or attribute is an error, never an empty
  string that silently ships a broken prompt.
* ``None`` prints as empty text, so an optional variable left unset reads naturally
  in ``{{ x }}`` and in ``{% if x %}``.

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

Rendering (``render_messages``) applies declared defaults, coerces values to their
declared types, and refuses (``RenderError``) when a used variable has no value or
a value is given that nothing uses or declares. ``None``, and an empty string for
a variable of a non-string type (a blank CSV cell), count as "not given".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import Message, PromptContent, Role, Variable, VariableType

__all__ = [
    "RenderedMessage",
    "check_content",
    "check_template",
    "coerce_value",
    "content_variables",
    "estimate_tokens",
    "render_messages",
    "render_template",
    "template_variables",
    "validate_content",
]

MAX_REPEAT_LENGTH = 1_000_000
"""Largest string / list a template may build with ``*`` (characters or items)."""
MAX_EXPONENT = 1_000
"""Largest exponent a template may use with ``**``."""

_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_TEMPLATE_FILENAME = "<template>"


class RenderedMessage(BaseModel):
    """One chat message after rendering: what is sent to a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class _PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox plus caps on ``*`` and ``**``, whose results can be huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_REPEAT_LENGTH
                ):
                    raise SecurityError(
                        f"repeating a sequence to more than {MAX_REPEAT_LENGTH} items is refused"
                    )
        elif (
            operator == "**"
            and isinstance(left, int | float)
            and isinstance(right, int | float)
            and abs(right) > MAX_EXPONENT
        ):
            raise SecurityError(f"exponents above {MAX_EXPONENT} are refused")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_ENV = _PromptEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)


def _syntax_error(exc: TemplateSyntaxError, where: str, message_index: int | None) -> TemplateError:
    return TemplateError(
        exc.message or str(exc), line=exc.lineno, where=where, message_index=message_index
    )


@lru_cache(maxsize=2048)
def _parse(source: str) -> nodes.Template:
    return _ENV.parse(source)


@lru_cache(maxsize=2048)
def _compile(source: str) -> Any:
    # Returns jinja2.Template; typed Any because its render() is untyped.
    return _ENV.from_string(source)


@lru_cache(maxsize=2048)
def _variables(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_parse(source)) - set(_ENV.globals))


def _where(index: int, message: Message) -> str:
    return f"message {index + 1} ({message.role})"


def check_template(source: str, where: str = "", *, message_index: int | None = None) -> None:
    """Raise ``TemplateError`` (1-based line, Jinja's message) if ``source`` does not compile."""
    try:
        _compile(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, where, message_index) from None


def template_variables(source: str) -> set[str]:
    """Names the template reads and does not define itself. Raises ``TemplateError``."""
    try:
        return set(_variables(source))
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, "", None) from None


def content_variables(content: PromptContent) -> set[str]:
    """Variables used by any message of ``content``. Raises ``TemplateError``."""
    used: set[str] = set()
    for index, message in enumerate(content.messages):
        try:
            used |= _variables(message.template)
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, _where(index, message), index) from None
    return used


def _first_use_line(source: str, name: str) -> int | None:
    lines = [
        node.lineno
        for node in _parse(source).find_all(nodes.Name)
        if node.name == name and node.ctx == "load"
    ]
    return min(lines, default=None)


def check_content(content: PromptContent) -> list[TemplateError]:
    """Every problem in ``content``, errors and warnings (see the module docstring).

    Syntax errors come first, in message order; then variable problems sorted by name.
    Nothing is raised: the editor marks each problem at its message and line.
    """
    problems: list[TemplateError] = []
    used: dict[str, int] = {}  # variable -> index of the first message using it
    for index, message in enumerate(content.messages):
        where = _where(index, message)
        try:
            _compile(message.template)
            names = _variables(message.template)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_error(exc, where, index))
            continue
        for name in names:
            used.setdefault(name, index)

    broken = bool(problems)
    declared = {v.name: v for v in content.variables}
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
                        hint=f"Declare {name!r} (it is treated as a required string until then).",
                    )
                )
            continue
        if name not in used and not broken:  # a broken message hides its uses
            problems.append(
                TemplateError(
                    f"variable {name!r} is declared but no message uses it",
                    severity="warning",
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
                        hint=f"Give {name!r} a default of type {variable.type}, or none.",
                    )
                )
    return problems


def validate_content(content: PromptContent) -> None:
    """Raise the first error-level problem of ``content``; warnings pass."""
    for problem in check_content(content):
        if problem.severity == "error":
            raise problem


def _coercion_error(name: str, type_: VariableType, value: Any, expected: str) -> RenderError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return RenderError(
        f"variable {name!r} expects {type_} ({expected}), got {shown}",
        invalid=[name],
        hint=f"Give {name!r} a value of type {type_}.",
    )


def coerce_value(name: str, type_: VariableType, value: Any) -> Any:
    """Convert ``value`` to the declared ``type_``; strings (CSV cells) are parsed.

    Raises ``RenderError`` naming the variable and the expected type.
    """
    if type_ == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _coercion_error(name, type_, value, "text")
    if type_ == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return int(value.strip())
        raise _coercion_error(name, type_, value, "a whole number such as 3")
    if type_ == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: int | float = value
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            number = int(value.strip())
        else:
            try:
                number = float(value.strip()) if isinstance(value, str) else math.nan
            except ValueError:
                number = math.nan
        if isinstance(number, float) and not math.isfinite(number):
            raise _coercion_error(name, type_, value, "a finite number such as 0.5")
        return number
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        raise _coercion_error(name, type_, value, "true/false, yes/no or 1/0")
    # json: strings are parsed; values that are already Python data pass through.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _coercion_error(name, type_, value, f"valid JSON: {exc}") from None
    return value


def _is_absent(variable: Variable | None, value: Any) -> bool:
    if value is None:
        return True
    return variable is not None and variable.type != "string" and value == ""


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line a render-time exception came from (Jinja rewrites tracebacks)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_template(source: str, context: Mapping[str, Any], where: str = "") -> str:
    """Render one template with ``context`` as is (no defaults, no coercion, no checks).

    Raises ``TemplateError`` for bad syntax and ``RenderError`` for failures while
    rendering (undefined attributes, sandbox refusals, errors in expressions).
    """
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, where, None) from None
    try:
        return str(template.render(context))
    except Exception as exc:
        line = _template_line(exc.__traceback__)
        loc = " ".join(p for p in (where, f"line {line}" if line else "") if p)
        prefix = f"{loc}: " if loc else ""
        if isinstance(exc, SecurityError):
            raise RenderError(
                f"{prefix}refused by the template sandbox: {exc}",
                hint="Templates may read the values they are given but not Python "
                "internals, change them, or build huge text; remove that expression.",
            ) from None
        if isinstance(exc, UndefinedError):
            raise RenderError(
                f"{prefix}{exc}",
                hint="Check the variable's value has that attribute or key, "
                "or guard it with {% if ... is defined %}.",
            ) from None
        raise RenderError(
            f"{prefix}{type(exc).__name__}: {exc}",
            hint="Fix the expression at that line, or the value it works on.",
        ) from None


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def render_messages(content: PromptContent, values: Mapping[str, Any]) -> list[RenderedMessage]:
    """Render every message of ``content`` with ``values``.

    Declared defaults fill absent values; values are coerced to declared types;
    undeclared variables take their values as given. Raises ``RenderError`` naming
    all missing variables, all unknown ones and all values of the wrong type, and
    ``TemplateError`` when a message does not compile.
    """
    used = content_variables(content)
    declared = {v.name: v for v in content.variables}

    unknown = sorted(set(values) - used - set(declared))
    missing: list[str] = []
    invalid: list[str] = []
    problems: list[str] = []
    context: dict[str, Any] = {}
    for name in sorted(used | set(declared)):
        variable = declared.get(name)
        value = values.get(name)
        if _is_absent(variable, value):
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

    if missing or unknown or invalid:
        parts = []
        if missing:
            parts.append(f"missing value for {_names(missing)}")
        if unknown:
            parts.append(f"unknown variable {_names(unknown)} (no template uses it)")
        parts.extend(problems)
        raise RenderError("; ".join(parts), missing=missing, unknown=unknown, invalid=invalid)

    return [
        RenderedMessage(
            role=message.role,
            content=render_template(message.template, context, _where(index, message)),
        )
        for index, message in enumerate(content.messages)
    ]


def estimate_tokens(text: str) -> int:
    """A rough token count for when a provider reports no usage: ceil(chars / 4).

    About four characters per token holds for English with common BPE tokenizers;
    it is not exact for code or other languages, so callers mark the count as
    estimated. Empty text is 0 tokens; any other text at least 1.
    """
    return -(-len(text) // 4)
