"""How CLI commands speak: plain text for people, ``--json`` for scripts.

Exit codes scripts can rely on (``workbench.core.errors``): 0 ok; 1 the thing checked
failed; 2 usage, configuration or input error; 3 could not run (unreachable, a missing
key): nothing was judged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from workbench.core.errors import EXIT_COULD_NOT_RUN as EXIT_COULD_NOT_RUN
from workbench.core.errors import EXIT_FAILED as EXIT_FAILED
from workbench.core.errors import EXIT_OK as EXIT_OK
from workbench.core.errors import EXIT_USAGE as EXIT_USAGE

EXIT_FAILURE = EXIT_FAILED


def _default(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)  # pydantic models, without importing pydantic
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, indent=2, ensure_ascii=False)


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else the human ``text``."""
    if as_json:
        sys.stdout.write(to_json(data) + "\n")
    else:
        body = text() if callable(text) else text
        if body:
            sys.stdout.write(body if body.endswith("\n") else body + "\n")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def number_type(kind: type[int] | type[float], low: float, high: float | None) -> Any:
    """An argparse type: a number of ``kind`` between ``low`` and ``high`` (None: no
    upper bound), refused with the range otherwise (``--concurrency 0``, ``--max-cost
    -1`` were taken and failed later, or never)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        if value != value or value < low or (high is not None and value > high):  # NaN too
            span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a value {span}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
