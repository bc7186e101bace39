"""The Jinja sandbox prompts render in: compiling, variable discovery, one bounded render.

Prompts are text, not HTML, so autoescape is off. Everything else leans to safety:

* ``ImmutableSandboxedEnvironment``: templates come from teammates and from the
  registry, so they may not reach Python internals (``''.__class__``) nor mutate
  the values they are given. Every loop, call, filter and operator goes through the
  counters of :mod:`workbench.core.render_limits`.
* ``StrictUndefined``: a missing variable or attribute is an error, never an empty
  string that silently ships a broken prompt.
* ``None`` prints as empty text, so an optional variable left unset reads naturally
  in ``{{ x }}`` and in ``{% if x %}``.

Constant folding is off, so compiling never runs a filter. Compiled templates are
cached by source, so a commit, the editor and a run share the work.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace

from workbench.core.errors import RenderError, TemplateError
from workbench.core.render_limits import (
    BUDGET,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_REPEAT_LENGTH,
    BoundedIterator,
    LimitExceededError,
    RenderLimitError,
    bounded_filter,
    bounded_lipsum,
    bounded_range,
    bounded_render,
    charge,
    check_printf,
    check_spec,
    check_str_call,
    limit_message,
    size_of,
    step,
)

_TEMPLATE_FILENAME = "<template>"


class _BoundedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        check_spec(format_spec, "a format")
        step()
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
        self.globals["range"] = bounded_range
        self.globals["lipsum"] = bounded_lipsum
        self.filters = {name: bounded_filter(name, f) for name, f in self.filters.items()}

    def concat(self, parts: Iterable[Any]) -> str:
        """Join output (a message, a macro, a {% set %} block) within MAX_OUTPUT_CHARS."""
        out: list[str] = []
        total = 0
        for part in parts:
            total += len(part)
            if total > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
            out.append(part)
        budget = BUDGET.get()
        if budget is not None:
            budget.build(total)
        return "".join(out)

    def join_text(self, parts: tuple[Any, ...], markup: bool) -> str:
        if sum(size_of(part) for part in parts) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"~ joining more than {MAX_OUTPUT_CHARS:,} characters")
        joined: str = charge(markup_join(parts) if markup else str_join(parts))
        return joined

    def bounded_iter(self, iterable: Any) -> Any:
        return iterable if isinstance(iterable, Undefined) else BoundedIterator(iterable)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        step()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_REPEAT_LENGTH:
                        raise RenderLimitError(
                            f"repeating to more than {MAX_REPEAT_LENGTH:,} characters or items"
                        )
                    if not isinstance(seq, str | bytes) and size_of(seq) * times > MAX_OUTPUT_CHARS:
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
            check_printf(left if isinstance(left, str) else left.decode("latin-1"), right)
        return charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes | bytearray):
            check_str_call(owner, getattr(__obj, "__name__", ""), args)
        return charge(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        step()
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
            if size_of(args) + size_of(dict(kwargs)) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"formatting more than {MAX_OUTPUT_CHARS:,} characters")
            formatted: str = charge(formatter.vformat(f_self, args, kwargs))
            return formatted

        return bounded_format


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    containers = (list, tuple, set, frozenset, dict, Namespace)
    if isinstance(value, containers) and size_of(value) > MAX_OUTPUT_CHARS:
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


def syntax_error(exc: TemplateSyntaxError, where: str, message_index: int | None) -> TemplateError:
    return TemplateError(
        exc.message or str(exc), line=exc.lineno, where=where, message_index=message_index
    )


@lru_cache(maxsize=2048)
def parse_template(source: str) -> nodes.Template:
    return _ENV.parse(source)


@lru_cache(maxsize=2048)
def compile_template(source: str) -> Any:
    # Returns jinja2.Template; typed Any because its render() is untyped. Compiled from
    # the cached parse (the environment does not optimise, so nothing mutates the tree):
    # tokenising is the costly part of a big prompt, and a commit needs the tree too.
    return _ENV.from_string(parse_template(source))


@lru_cache(maxsize=512)
def compile_probe(source: str) -> Any:
    return _PROBE_ENV.from_string(parse_template(source))  # same lexer settings as _ENV


@lru_cache(maxsize=2048)
def find_variables(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(parse_template(source)) - set(_ENV.globals))


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
        template = compile_probe(source) if _probe else compile_template(source)
    except TemplateSyntaxError as exc:
        raise syntax_error(exc, where, None) from None
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
