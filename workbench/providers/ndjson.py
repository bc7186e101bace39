"""An incremental newline-delimited JSON decoder (Ollama's streaming format).

JSON text never holds a raw newline, so records are cut at LF bytes (a CR
before it is dropped); a multi-byte UTF-8 character split across chunks is only
decoded once its line is whole. Blank lines are skipped.
"""

from __future__ import annotations

import json
from typing import Any


class NDJSONError(ValueError):
    """A line that is not JSON. ``line`` holds (the start of) the offending text."""

    def __init__(self, line: str) -> None:
        self.line = line[:200]
        super().__init__(f"not a JSON line: {self.line!r}")


class NDJSONDecoder:
    """Feed bytes with :meth:`feed`; each call returns the records it completed."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Any]:
        if not chunk:
            return []
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        return [record for line in lines if (record := _parse(line)) is not _BLANK]

    def close(self) -> list[Any]:
        """End of stream: a last line without its newline still counts."""
        rest, self._buffer = self._buffer, b""
        record = _parse(rest)
        return [] if record is _BLANK else [record]


_BLANK = object()


def _parse(line: bytes) -> Any:
    text = line.decode("utf-8", errors="replace").strip()
    if not text:
        return _BLANK
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise NDJSONError(text) from None
