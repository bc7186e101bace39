"""Differences between two prompt contents, for the CLI and the version-compare view.

``diff_contents`` computes one structured ``ContentDiff``; the two views made from it,
``unified_diff_text`` (``workbench vault diff``) and ``side_by_side_rows`` (the UI), are
in :mod:`workbench.core.diff_views`. Line and character offsets are what
``difflib.SequenceMatcher`` finds.

Messages are aligned first on (role, template) so that inserting a message in the
middle shows as one added message, not as every later message changed; within a
changed stretch, same-role messages pair up in order, preferring the most similar
text. A message whose role changed shows as removed plus added.

Templates are split on ``"\\n"`` only, so a trailing newline added or removed shows
as an empty last line inserted or deleted rather than disappearing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workbench.core.models import Message, PromptContent, Variable

__all__ = [
    "ContentDiff",
    "LineOp",
    "MessageDiff",
    "ParamChange",
    "Span",
    "VariableChange",
    "char_spans",
    "diff_contents",
    "line_ops",
    "split_lines",
    "word_spans",
]

Span = tuple[int, int]
"""A half-open character range ``[start, end)`` within one line."""
LineKind = Literal["equal", "insert", "delete", "replace"]
MessageStatus = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True, slots=True)
class LineOp:
    """One line of a message diff. Line numbers are 1-based; text has no newline."""

    kind: LineKind
    old_lineno: int | None
    new_lineno: int | None
    old_text: str | None
    new_text: str | None
    old_spans: tuple[Span, ...] = ()
    """Changed characters in ``old_text`` (only for "replace")."""
    new_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageDiff:
    status: MessageStatus
    old_index: int | None
    new_index: int | None
    old: Message | None
    new: Message | None
    lines: tuple[LineOp, ...]

    @property
    def title(self) -> str:
        """E.g. ``message 2 (user)``, numbered as in the new content when it is there."""
        index = self.new_index if self.new_index is not None else self.old_index
        message = self.new or self.old
        assert index is not None
        assert message is not None
        return f"message {index + 1} ({message.role})"


@dataclass(frozen=True, slots=True)
class ParamChange:
    """A model parameter that differs; ``None`` means unset."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class VariableChange:
    name: str
    kind: Literal["added", "removed", "changed"]
    fields: tuple[str, ...]
    """For "changed": the declaration fields that differ (type, default, ...)."""
    old: Variable | None
    new: Variable | None


@dataclass(frozen=True, slots=True)
class ContentDiff:
    messages: tuple[MessageDiff, ...]
    """Every message of both sides in order, unchanged ones included."""
    params: tuple[ParamChange, ...]
    variables: tuple[VariableChange, ...]
    tags_added: tuple[str, ...]
    tags_removed: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return (
            all(m.status == "unchanged" for m in self.messages)
            and not self.params
            and not self.variables
            and not self.tags_added
            and not self.tags_removed
        )

    @property
    def changed_messages(self) -> tuple[MessageDiff, ...]:
        return tuple(m for m in self.messages if m.status != "unchanged")


# ---------------------------------------------------------------- computing


def split_lines(template: str) -> list[str]:
    """The lines a diff compares: split on ``"\\n"`` only (see the module docstring)."""
    return template.split("\n")


SPAN_MERGE_GAP = 2
"""Unchanged runs this short (in characters, or words for long lines) between two
changes count as changed: a character match of ``t`` inside ``string`` ->
``integer`` is noise to a reader."""
CHAR_DIFF_LIMIT = 1_000
"""Lines longer than this are compared word by word: character matching grows about
quadratically (~0.4 s for two 5,000-character lines on this kind of machine)."""
TOKEN_DIFF_LIMIT = 2_000
"""Lines with more words than this are marked changed as a whole."""

_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")


def _tokens(text: str) -> tuple[list[str], list[int]]:
    """Word tokens and their start offsets, plus the end offset as a last entry."""
    tokens: list[str] = []
    starts: list[int] = []
    for match in _TOKEN_RE.finditer(text):
        tokens.append(match.group())
        starts.append(match.start())
    starts.append(len(text))
    return tokens, starts


def char_spans(old: str, new: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Changed character ranges in ``old`` and in ``new``, adjacent ranges merged."""
    if max(len(old), len(new)) > CHAR_DIFF_LIMIT:
        return word_spans(old, new, gap=SPAN_MERGE_GAP)
    return _spans(old, range(len(old) + 1), new, range(len(new) + 1), SPAN_MERGE_GAP)


def word_spans(old: str, new: str, *, gap: int = 1) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Changed ranges in ``old`` and ``new`` in whole words (and punctuation marks).

    For prose, such as two models' answers, where a character diff marks letters
    that happen to match inside different words. Unchanged stretches of at most
    ``gap`` tokens between two changes (the space between two changed words) count
    as changed, so a changed phrase reads as one mark."""
    old_units, old_at = _tokens(old)
    new_units, new_at = _tokens(new)
    if max(len(old_units), len(new_units)) > TOKEN_DIFF_LIMIT:
        return ((0, len(old)),) if old else (), ((0, len(new)),) if new else ()
    return _spans(old_units, old_at, new_units, new_at, gap)


def _spans(
    old_units: Sequence[str],
    old_at: Sequence[int],
    new_units: Sequence[str],
    new_at: Sequence[int],
    gap: int,
) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Changed ranges, as character offsets (``*_at[i]`` is where unit ``i`` starts)."""
    old_spans: list[Span] = []
    new_spans: list[Span] = []
    opcodes = difflib.SequenceMatcher(None, old_units, new_units, autojunk=False).get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        interior = 0 < n < len(opcodes) - 1
        if tag == "equal" and not (interior and i2 - i1 <= gap):
            continue
        for spans, start, end in (
            (old_spans, old_at[i1], old_at[i2]),
            (new_spans, new_at[j1], new_at[j2]),
        ):
            if end > start:
                if spans and spans[-1][1] == start:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start, end))
    return tuple(old_spans), tuple(new_spans)


def line_ops(
    old: Sequence[str],
    new: Sequence[str],
    spans: Callable[[str, str], tuple[tuple[Span, ...], tuple[Span, ...]]] = char_spans,
) -> tuple[LineOp, ...]:
    """``old`` and ``new`` lines aligned, replaced lines marked with ``spans``."""
    ops: list[LineOp] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.extend(
                LineOp("equal", i + 1, j + 1, old[i], new[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            old_spans, new_spans = spans(old[i1 + k], new[j1 + k])
            ops.append(
                LineOp(
                    "replace",
                    i1 + k + 1,
                    j1 + k + 1,
                    old[i1 + k],
                    new[j1 + k],
                    old_spans,
                    new_spans,
                )
            )
        ops.extend(LineOp("delete", i + 1, None, old[i], None) for i in range(i1 + paired, i2))
        ops.extend(LineOp("insert", None, j + 1, None, new[j]) for j in range(j1 + paired, j2))
    return tuple(ops)


def _message_diff(
    old_index: int | None, new_index: int | None, old: Message | None, new: Message | None
) -> MessageDiff:
    old_lines = split_lines(old.template) if old is not None else []
    new_lines = split_lines(new.template) if new is not None else []
    if old is None:
        status: MessageStatus = "added"
    elif new is None:
        status = "removed"
    else:
        status = "unchanged" if old == new else "changed"
    return MessageDiff(status, old_index, new_index, old, new, line_ops(old_lines, new_lines))


def _pair_messages(
    old: Sequence[Message], new: Sequence[Message]
) -> Iterator[tuple[int | None, int | None]]:
    """Index pairs aligning ``old`` and ``new`` (None on the side without a message)."""
    outer = difflib.SequenceMatcher(
        None,
        [(m.role, m.template) for m in old],
        [(m.role, m.template) for m in new],
        autojunk=False,
    )
    for tag, i1, i2, j1, j2 in outer.get_opcodes():
        if tag == "equal":
            yield from zip(range(i1, i2), range(j1, j2), strict=True)
            continue
        yield from _pair_changed(old, new, i1, i2, j1, j2)


def _pair_changed(
    old: Sequence[Message], new: Sequence[Message], i1: int, i2: int, j1: int, j2: int
) -> Iterator[tuple[int | None, int | None]]:
    """Align a changed stretch: an order-keeping pairing of same-role messages that
    maximises (pairs + text similarity), so an edited message pairs with its edit
    rather than with a new neighbour of the same role. Stretches are a few messages."""
    n, m = i2 - i1, j2 - j1
    # gain[a][b]: what pairing old[i1+a] with new[j1+b] is worth; None: roles differ.
    # Similarity is measured on lines: on characters it costs seconds for long templates.
    old_lines = [split_lines(o.template) for o in old[i1:i2]]
    new_lines = [split_lines(w.template) for w in new[j1:j2]]
    gain = [
        [
            1.0 + difflib.SequenceMatcher(None, old_lines[a], new_lines[b]).ratio()
            if old[i1 + a].role == new[j1 + b].role
            else None
            for b in range(m)
        ]
        for a in range(n)
    ]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            pair = gain[a][b]
            skip = max(score[a + 1][b], score[a][b + 1])
            score[a][b] = skip if pair is None else max(skip, pair + score[a + 1][b + 1])
    a = b = 0
    while a < n or b < m:
        pair = gain[a][b] if a < n and b < m else None
        if pair is not None and score[a][b] == pair + score[a + 1][b + 1]:
            yield i1 + a, j1 + b
            a, b = a + 1, b + 1
        elif b == m or (a < n and score[a][b] == score[a + 1][b]):
            yield i1 + a, None
            a += 1
        else:
            yield None, j1 + b
            b += 1


def _variable_change(
    name: str, old: Variable | None, new: Variable | None
) -> VariableChange | None:
    if old is None:
        return VariableChange(name, "added", (), None, new)
    if new is None:
        return VariableChange(name, "removed", (), old, None)
    fields = tuple(f for f in Variable.model_fields if getattr(old, f) != getattr(new, f))
    return VariableChange(name, "changed", fields, old, new) if fields else None


def diff_contents(old: PromptContent, new: PromptContent) -> ContentDiff:
    """Everything that differs between two contents (see the module docstring)."""
    messages = tuple(
        _message_diff(
            i,
            j,
            old.messages[i] if i is not None else None,
            new.messages[j] if j is not None else None,
        )
        for i, j in _pair_messages(old.messages, new.messages)
    )

    old_params = old.model.model_dump()
    new_params = new.model.model_dump()
    params = tuple(
        ParamChange(key, old_params[key], new_params[key])
        for key in type(old.model).model_fields
        if old_params[key] != new_params[key]
    )

    old_vars = {v.name: v for v in old.variables}
    new_vars = {v.name: v for v in new.variables}
    variables = tuple(
        change
        for name in sorted(old_vars.keys() | new_vars.keys())
        if (change := _variable_change(name, old_vars.get(name), new_vars.get(name)))
    )

    return ContentDiff(
        messages=messages,
        params=params,
        variables=variables,
        tags_added=tuple(sorted(set(new.tags) - set(old.tags))),
        tags_removed=tuple(sorted(set(old.tags) - set(new.tags))),
    )
