"""Values of declared variables: parsing a test case's text (a CSV cell) into the
declared type, and what counts as "not given"."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from workbench.core.errors import RenderError
from workbench.core.models import Variable, VariableType

_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


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


def is_absent(variable: Variable | None, value: Any) -> bool:
    if value is None:
        return True
    return variable is not None and variable.type != "string" and value == ""
