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

Rendering (``render_case``) applies declared defaults, coerces values to their
declared types, renders values that use the case's other values, ignores values no
message uses (``RenderResult.unused`` names them) and refuses (``RenderError``) when
a used variable has no value. ``None``, and an empty string for a variable of a
non-string type (a blank CSV cell), count as "not given".

Limits. Every render is bounded (``MAX_*`` and ``RENDER_SECONDS``): loop iterations,
calls and operators are counted steps that also check a deadline; padding widths,
repetition, integer size, joined text and output are capped before they are built;
``range`` and ``lipsum`` are capped; constant folding is off, so compiling never
runs a filter. A template past a limit raises ``LimitExceededError`` ("the template
exceeds the rendering limit: ...; simplify it"). ``check_content`` also renders each
message once with only the declared defaults, so a template that exceeds a limit
whatever its values is refused at commit and import.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
import types
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace, generate_lorem_ipsum
from pydantic import BaseModel, ConfigDict

from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import (
    MODEL_REF_RULE,
    Message,
    PromptContent,
    Role,
    Variable,
    VariableType,
    split_model_ref,
)

__all__ = [
    "RENDER_SECONDS",
    "LimitExceededError",
    "RenderLimitError",
    "RenderResult",
    "RenderedMessage",
    "bounded_render",
    "check_content",
    "check_limits",
    "check_template",
    "coerce_value",
    "content_variables",
    "estimate_tokens",
    "render_case",
    "render_messages",
    "render_template",
    "template_variables",
    "validate_content",
]

MAX_REPEAT_LENGTH = 1_000_000
"""Largest string / list a template may build with ``*`` (characters or items), and the
largest padding width or precision (``center``, ``'{:>N}'``, ``'%Ns'``, ``zfill``...)."""
MAX_EXPONENT = 1_000
"""Largest exponent a template may use with ``**``."""
MAX_INT_BITS = 4_096
"""Largest integer (in bits) ``*`` and ``**`` may produce: about 1,200 digits."""
MAX_OUTPUT_CHARS = 10_000_000
"""Largest rendered message, and largest text built by ``+``, ``~``, ``join``, ``replace``."""
MAX_BUILT_CHARS = 50_000_000
"""All text and items one render may build, added up (bounds memory, not just results)."""
MAX_STEPS = 1_000_000
"""Loop iterations, calls, filters and operators one render may take."""
MAX_RANGE = 100_000
"""Longest ``range()``."""
MAX_LIPSUM_PARAGRAPHS = 100
RENDER_SECONDS = 1.0
"""Wall-clock bound of one render (every message of a prompt for one test case)."""

_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_TEMPLATE_FILENAME = "<template>"
_DIGITS = re.compile(r"\d+")
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?[hlL]?[a-zA-Z%]")


class RenderedMessage(BaseModel):
    """One chat message after rendering: what is sent to a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class RenderLimitError(SecurityError):
    """A template went past one of the rendering limits above (``detail`` says which)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Budget:
    """Steps, built characters and the deadline of one render (shared by its messages)."""

    __slots__ = ("built", "deadline", "seconds", "steps")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.steps = 0
        self.built = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderLimitError(f"more than {MAX_STEPS:,} loop iterations, calls and operations")
        if time.monotonic() > self.deadline:
            raise RenderLimitError(f"it ran for more than {self.seconds:g} s")

    def build(self, size: int) -> None:
        self.built += size
        if self.built > MAX_BUILT_CHARS:
            raise RenderLimitError(f"it builds more than {MAX_BUILT_CHARS:,} characters in all")
        self.step()


_BUDGET: ContextVar[_Budget | None] = ContextVar("workbench_render_budget", default=None)


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


def _charge(value: Any) -> Any:
    """Count what a call built; wrap iterators so consuming them is counted too."""
    if isinstance(value, str | bytes | list | tuple | dict):
        if isinstance(value, str | bytes) and len(value) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"text longer than {MAX_OUTPUT_CHARS:,} characters")
        budget = _BUDGET.get()
        if budget is not None:
            budget.build(len(value))
    elif isinstance(value, Iterator) and not isinstance(value, _BoundedIterator):
        return _BoundedIterator(value)
    return value


class _BoundedIterator:
    """An iterator whose every item is a step (for loops, lazy filters such as slice)."""

    __slots__ = ("_it", "_len")

    def __init__(self, iterable: Any) -> None:
        self._it = iter(iterable)
        try:
            self._len: int | None = len(iterable)
        except TypeError:
            self._len = None

    def __iter__(self) -> _BoundedIterator:
        return self

    def __next__(self) -> Any:
        _step()
        return next(self._it)

    def __len__(self) -> int:
        if self._len is None:
            raise TypeError("no length")
        return self._len


def _size(value: Any, seen: dict[int, int] | None = None, depth: int = 0) -> int:
    """Characters ``str(value)`` would take, without building it (shared parts once)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    if isinstance(value, float):
        return 24
    if isinstance(value, Namespace):
        value = dict(value._Namespace__attrs)  # repr shows these
    if not isinstance(value, list | tuple | set | frozenset | dict):
        return 64
    seen = {} if seen is None else seen
    known = seen.get(id(value))
    if known is not None:
        return known
    if depth > 200:
        raise RenderLimitError("values nested more than 200 deep")
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    total = 2 + sum(_size(item, seen, depth + 1) + 2 for item in items)
    seen[id(value)] = total
    return total


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_REPEAT_LENGTH:
        raise RenderLimitError(f"{what} of {width:,} (at most {MAX_REPEAT_LENGTH:,})")


def _check_spec(spec: str, what: str) -> None:
    """Widths and precisions in a format spec ('>2000000000', '.9f') or printf ('%9s')."""
    for digits in _DIGITS.findall(spec):
        if len(digits) > 7 or int(digits) > MAX_REPEAT_LENGTH:
            raise RenderLimitError(
                f"{what} with a width of {digits} (at most {MAX_REPEAT_LENGTH:,})"
            )


def _check_printf(fmt: str, args: Any) -> None:
    for width, precision in _PRINTF.findall(fmt):
        _check_spec(f"{width} {precision}".replace("*", ""), "a % format")
    if "*" in fmt:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_width(arg, "a % format width")
    if _size(args) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"formatting values longer than {MAX_OUTPUT_CHARS:,} characters")


def _check_str_call(obj: Any, name: str, args: tuple[Any, ...]) -> None:
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0], f"{name}() width")
    elif name == "expandtabs":
        tab = args[0] if args else 8
        if isinstance(tab, int) and len(obj) * tab > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"expandtabs() to more than {MAX_OUTPUT_CHARS:,} characters")
    elif name == "replace" and len(args) >= 2:
        _check_replace(obj, args[0], args[1])
    elif name == "join" and args and _size(args[0]) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"join() of more than {MAX_OUTPUT_CHARS:,} characters")
    elif name == "translate" and args and _size(args[0]) * max(len(obj), 1) > MAX_OUTPUT_CHARS * 8:
        raise RenderLimitError("translate() to a huge text")


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if (
        isinstance(text, str | bytes)
        and isinstance(old, type(text))
        and isinstance(new, type(text))
    ):
        count = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
        if len(text) + count * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"replace() to more than {MAX_OUTPUT_CHARS:,} characters")


def _filter_center(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    _check_width(width, "center width")


def _filter_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    pad = len(width) if isinstance(width, str) else width
    if isinstance(pad, int):
        _check_width(pad, "indent width")
        lines = str(value).count("\n") + 1 if isinstance(value, str) else 1
        if lines * pad > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"indent() to more than {MAX_OUTPUT_CHARS:,} characters")


def _filter_format(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        _check_printf(value, args or kwargs)


def _filter_replace(value: Any, old: Any = "", new: Any = "", *_: Any, **__: Any) -> None:
    _check_replace(str(value) if not isinstance(value, str) else value, old, new)


def _filter_sized(value: Any, *args: Any, **kwargs: Any) -> None:
    if _size(value) + _size(args) + _size(kwargs) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"a value of more than {MAX_OUTPUT_CHARS:,} characters as text")


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _filter_center,
    "indent": _filter_indent,
    "format": _filter_format,
    "replace": _filter_replace,
    **{
        name: _filter_sized
        for name in (
            "join",
            "string",
            "tojson",
            "pprint",
            "wordwrap",
            "urlize",
            "striptags",
            "title",
            "upper",
            "lower",
            "capitalize",
            "trim",
            "truncate",
            "wordcount",
            "escape",
            "e",
            "forceescape",
            "urlencode",
            "xmlattr",
            "safe",
        )
    },
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    check = _FILTER_CHECKS.get(name)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _step()
        if check is not None:
            check(*args[skip:], **kwargs)
        return _charge(func(*args, **kwargs))

    return bounded


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitError(f"range() of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not (isinstance(n, int) and isinstance(max, int)):
        raise TypeError("lipsum() takes whole numbers")
    if n > MAX_LIPSUM_PARAGRAPHS or max > 1_000:
        raise RenderLimitError(
            f"lipsum() of more than {MAX_LIPSUM_PARAGRAPHS} paragraphs of 1,000 words"
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_spec(format_spec, "a format")
        _step()
        return super().format_field(value, format_spec)


class _CodeGenerator(CodeGenerator):
    """Jinja's compiler minus constant folding, with every loop and ``~`` bounded.

    Folding would run filters at compile time, where no limit applies:
    ``{{ 'x'|center(2000000000) }}`` built 2 GB inside ``commit``.
    """

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if isinstance(node, nodes.TemplateData):
            return super()._output_child_to_const(node, frame, finalize)
        raise nodes.Impossible()

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        bounded = nodes.Call(
            nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None
        )
        bounded.set_lineno(node.lineno)
        loop = nodes.For(node.target, bounded, node.body, node.else_, node.test, node.recursive)
        loop.set_lineno(node.lineno)
        super().visit_For(loop, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        markup = (
            "context.eval_ctx.volatile"
            if frame.eval_ctx.volatile
            else str(bool(frame.eval_ctx.autoescape))
        )
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


class _PromptEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, bounded: see the ``MAX_*`` limits. Every loop iteration, call, filter
    and arithmetic operator is a step that also checks the render's deadline."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(optimized=False, **kwargs)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def concat(self, parts: Iterable[Any]) -> str:
        """Join output (a message, a macro, a {% set %} block) within MAX_OUTPUT_CHARS."""
        out: list[str] = []
        total = 0
        for part in parts:
            total += len(part)
            if total > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
            out.append(part)
        budget = _BUDGET.get()
        if budget is not None:
            budget.build(total)
        return "".join(out)

    def join_text(self, parts: tuple[Any, ...], markup: bool) -> str:
        if sum(_size(part) for part in parts) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"~ joining more than {MAX_OUTPUT_CHARS:,} characters")
        joined: str = _charge(markup_join(parts) if markup else str_join(parts))
        return joined

    def bounded_iter(self, iterable: Any) -> Any:
        return iterable if isinstance(iterable, Undefined) else _BoundedIterator(iterable)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_REPEAT_LENGTH:
                        raise RenderLimitError(
                            f"repeating to more than {MAX_REPEAT_LENGTH:,} characters or items"
                        )
                    if not isinstance(seq, str | bytes) and _size(seq) * times > MAX_OUTPUT_CHARS:
                        raise RenderLimitError(
                            f"repeating to more than {MAX_OUTPUT_CHARS:,} characters"
                        )
            if _int(left) and _int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderLimitError(f"a number of more than {MAX_INT_BITS:,} bits")
        elif operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            if abs(right) > MAX_EXPONENT:
                raise RenderLimitError(f"an exponent above {MAX_EXPONENT:,}")
            if (
                isinstance(left, int)
                and _int(right)
                and right > 0
                and left.bit_length() * right > MAX_INT_BITS
            ):
                raise RenderLimitError(f"a number of more than {MAX_INT_BITS:,} bits")
        elif (
            operator == "+"
            and isinstance(left, str | bytes | list | tuple)
            and (isinstance(right, str | bytes | list | tuple))
        ):
            if len(left) + len(right) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"text or a list longer than {MAX_OUTPUT_CHARS:,}")
        elif operator == "%" and isinstance(left, str | bytes):
            _check_printf(left if isinstance(left, str) else left.decode("latin-1"), right)
        return _charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes | bytearray):
            _check_str_call(owner, getattr(__obj, "__name__", ""), args)
        return _charge(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _step()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str):
            return None
        formatter = _BoundedFormatter(self)
        is_map = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one mapping")
                kwargs, args = args[0], ()
            if _size(args) + _size(dict(kwargs)) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"formatting more than {MAX_OUTPUT_CHARS:,} characters")
            formatted: str = _charge(formatter.vformat(f_self, args, kwargs))
            return formatted

        return bounded_format


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    containers = (list, tuple, set, frozenset, dict, Namespace)
    if isinstance(value, containers) and _size(value) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"printing a value of more than {MAX_OUTPUT_CHARS:,} characters")
    return value


_ENV = _PromptEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)


class _ProbeUndefined(ChainableUndefined):
    """For the commit check: unknown values are empty, so value-free bombs still show."""


_PROBE_ENV = _PromptEnvironment(
    undefined=_ProbeUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)


@contextmanager
def bounded_render(seconds: float = RENDER_SECONDS) -> Generator[None, None, None]:
    """Share one budget (steps, characters, deadline) between the renders inside."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set(_Budget(seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


class LimitExceededError(RenderError):
    """A render stopped at a rendering limit: "the template exceeds the rendering limit"."""


def limit_message(detail: str) -> str:
    return f"the template exceeds the rendering limit: {detail}; simplify it"


def _syntax_error(exc: TemplateSyntaxError, where: str, message_index: int | None) -> TemplateError:
    return TemplateError(
        exc.message or str(exc), line=exc.lineno, where=where, message_index=message_index
    )


@lru_cache(maxsize=2048)
def _parse(source: str) -> nodes.Template:
    return _ENV.parse(source)


@lru_cache(maxsize=2048)
def _compile(source: str) -> Any:
    # Returns jinja2.Template; typed Any because its render() is untyped. Compiled from
    # the cached parse (the environment does not optimise, so nothing mutates the tree):
    # tokenising is the costly part of a big prompt, and a commit needs the tree too.
    return _ENV.from_string(_parse(source))


@lru_cache(maxsize=512)
def _compile_probe(source: str) -> Any:
    return _PROBE_ENV.from_string(_parse(source))  # same lexer settings as _ENV


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
            _compile(message.template)
            names = _variables(message.template)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_error(exc, where, index))
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


def render_template(
    source: str, context: Mapping[str, Any], where: str = "", *, _probe: bool = False
) -> str:
    """Render one template with ``context`` as is (no defaults, no coercion, no checks),
    within the rendering limits (one budget shared with an enclosing ``bounded_render``).

    Raises ``TemplateError`` for bad syntax and ``RenderError`` for failures while
    rendering (undefined attributes, sandbox refusals, limits, errors in expressions);
    a limit's is a ``LimitExceededError``.
    """
    try:
        template = _compile_probe(source) if _probe else _compile(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc, where, None) from None
    try:
        with bounded_render():
            return str(template.render(context))
    except Exception as exc:
        line = _template_line(exc.__traceback__)
        loc = " ".join(p for p in (where, f"line {line}" if line else "") if p)
        prefix = f"{loc}: " if loc else ""
        limit = None
        if isinstance(exc, RenderLimitError):
            limit = exc.detail
        elif isinstance(exc, MemoryError):
            limit = "it ran out of memory"
        elif isinstance(exc, RecursionError):
            limit = "macros call themselves too deeply"
        elif isinstance(exc, OverflowError):
            limit = f"a number too large ({exc})"
        if limit is not None:
            raise LimitExceededError(
                f"{prefix}{limit_message(limit)}",
                hint="Loops, numbers, padding and text a template builds are bounded "
                "so one prompt cannot hang or exhaust the app; make it do less.",
            ) from None
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
            _compile(message.template)
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
