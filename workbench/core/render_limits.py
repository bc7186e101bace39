"""The rendering limits: what one render of a prompt may take, and the counters that
enforce them.

Every render is bounded (``MAX_*`` and ``RENDER_SECONDS``): loop iterations, calls
and operators are counted steps that also check a deadline; padding widths,
repetition, integer size, joined text and output are capped before they are built;
``range`` and ``lipsum`` are capped. A template past a limit raises
``LimitExceededError`` ("the template exceeds the rendering limit: ...; simplify
it"). The sandbox (:mod:`workbench.core.sandbox`) calls these checks; they hold no
Jinja state of their own beyond the shared budget of the render under way.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace, generate_lorem_ipsum

from workbench.core.errors import RenderError

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

_DIGITS = re.compile(r"\d+")
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?[hlL]?[a-zA-Z%]")


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


BUDGET: ContextVar[_Budget | None] = ContextVar("workbench_render_budget", default=None)


def step() -> None:
    budget = BUDGET.get()
    if budget is not None:
        budget.step()


def charge(value: Any) -> Any:
    """Count what a call built; wrap iterators so consuming them is counted too."""
    if isinstance(value, str | bytes | list | tuple | dict):
        if isinstance(value, str | bytes) and len(value) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"text longer than {MAX_OUTPUT_CHARS:,} characters")
        budget = BUDGET.get()
        if budget is not None:
            budget.build(len(value))
    elif isinstance(value, Iterator) and not isinstance(value, BoundedIterator):
        return BoundedIterator(value)
    return value


class BoundedIterator:
    """An iterator whose every item is a step (for loops, lazy filters such as slice)."""

    __slots__ = ("_it", "_len")

    def __init__(self, iterable: Any) -> None:
        self._it = iter(iterable)
        try:
            self._len: int | None = len(iterable)
        except TypeError:
            self._len = None

    def __iter__(self) -> BoundedIterator:
        return self

    def __next__(self) -> Any:
        step()
        return next(self._it)

    def __len__(self) -> int:
        if self._len is None:
            raise TypeError("no length")
        return self._len


def size_of(value: Any, seen: dict[int, int] | None = None, depth: int = 0) -> int:
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
    total = 2 + sum(size_of(item, seen, depth + 1) + 2 for item in items)
    seen[id(value)] = total
    return total


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_REPEAT_LENGTH:
        raise RenderLimitError(f"{what} of {width:,} (at most {MAX_REPEAT_LENGTH:,})")


def check_spec(spec: str, what: str) -> None:
    """Widths and precisions in a format spec ('>2000000000', '.9f') or printf ('%9s')."""
    for digits in _DIGITS.findall(spec):
        if len(digits) > 7 or int(digits) > MAX_REPEAT_LENGTH:
            raise RenderLimitError(
                f"{what} with a width of {digits} (at most {MAX_REPEAT_LENGTH:,})"
            )


def check_printf(fmt: str, args: Any) -> None:
    for width, precision in _PRINTF.findall(fmt):
        check_spec(f"{width} {precision}".replace("*", ""), "a % format")
    if "*" in fmt:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_width(arg, "a % format width")
    if size_of(args) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"formatting values longer than {MAX_OUTPUT_CHARS:,} characters")


def check_str_call(obj: Any, name: str, args: tuple[Any, ...]) -> None:
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0], f"{name}() width")
    elif name == "expandtabs":
        tab = args[0] if args else 8
        if isinstance(tab, int) and len(obj) * tab > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"expandtabs() to more than {MAX_OUTPUT_CHARS:,} characters")
    elif name == "replace" and len(args) >= 2:
        _check_replace(obj, args[0], args[1])
    elif name == "join" and args and size_of(args[0]) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"join() of more than {MAX_OUTPUT_CHARS:,} characters")
    elif (
        name == "translate" and args and size_of(args[0]) * max(len(obj), 1) > MAX_OUTPUT_CHARS * 8
    ):
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
        check_printf(value, args or kwargs)


def _filter_replace(value: Any, old: Any = "", new: Any = "", *_: Any, **__: Any) -> None:
    _check_replace(str(value) if not isinstance(value, str) else value, old, new)


def _filter_sized(value: Any, *args: Any, **kwargs: Any) -> None:
    if size_of(value) + size_of(args) + size_of(kwargs) > MAX_OUTPUT_CHARS:
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


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    check = _FILTER_CHECKS.get(name)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        step()
        if check is not None:
            check(*args[skip:], **kwargs)
        return charge(func(*args, **kwargs))

    return bounded


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitError(f"range() of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not (isinstance(n, int) and isinstance(max, int)):
        raise TypeError("lipsum() takes whole numbers")
    if n > MAX_LIPSUM_PARAGRAPHS or max > 1_000:
        raise RenderLimitError(
            f"lipsum() of more than {MAX_LIPSUM_PARAGRAPHS} paragraphs of 1,000 words"
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


@contextmanager
def bounded_render(seconds: float = RENDER_SECONDS) -> Generator[None, None, None]:
    """Share one budget (steps, characters, deadline) between the renders inside."""
    if BUDGET.get() is not None:
        yield
        return
    token = BUDGET.set(_Budget(seconds))
    try:
        yield
    finally:
        BUDGET.reset(token)


class LimitExceededError(RenderError):
    """A render stopped at a rendering limit: "the template exceeds the rendering limit"."""


def limit_message(detail: str) -> str:
    return f"the template exceeds the rendering limit: {detail}; simplify it"
