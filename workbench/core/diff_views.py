"""Views of a prompt diff: the unified text of ``workbench vault diff`` and the rows of
the app's side-by-side view, both made from the one :class:`~workbench.core.diff.ContentDiff`
that :func:`~workbench.core.diff.diff_contents` computes; and the side-by-side rows of two
plain texts (two models' answers)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

from workbench.core.diff import (
    ContentDiff,
    Span,
    VariableChange,
    char_spans,
    diff_contents,
    line_ops,
    split_lines,
    word_spans,
)
from workbench.core.models import Message, PromptContent, Variable

__all__ = [
    "SideBySideRow",
    "format_value",
    "side_by_side_rows",
    "text_diff_rows",
    "unified_diff_text",
]


@dataclass(frozen=True, slots=True)
class SideBySideRow:
    """One row of the side-by-side view.

    ``kind`` "header" starts a section (a message, "parameters", "variables",
    "tags"); its ``left``/``right`` are the section titles ("" on a side that lacks
    the message). Other rows are lines; ``None`` text means the side has no line.
    """

    kind: Literal["equal", "insert", "delete", "replace", "header"]
    left: str | None
    right: str | None
    left_spans: tuple[Span, ...] = ()
    right_spans: tuple[Span, ...] = ()
    left_lineno: int | None = None
    right_lineno: int | None = None


def format_value(value: Any) -> str:
    """A parameter or default as a person reads it: JSON, ``(unset)`` for None."""
    if value is None:
        return "(unset)"
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


def _describe_variable(variable: Variable) -> str:
    parts = [variable.type, "required" if variable.required else "optional"]
    if variable.default is not None:
        parts.append(f"default {format_value(variable.default)}")
    if variable.description:
        parts.append(f"description {format_value(variable.description)}")
    return f"{variable.name} ({', '.join(parts)})"


def _variable_lines(change: VariableChange) -> list[str]:
    if change.new is not None and change.old is None:
        return [f"+ {_describe_variable(change.new)}"]
    if change.old is not None and change.new is None:
        return [f"- {_describe_variable(change.old)}"]
    assert change.old is not None
    assert change.new is not None
    fields = "; ".join(
        f"{f} {format_value(getattr(change.old, f))} -> {format_value(getattr(change.new, f))}"
        for f in change.fields
    )
    return [f"~ {change.name}: {fields}"]


def unified_diff_text(
    old: PromptContent, new: PromptContent, old_label: str = "old", new_label: str = "new"
) -> str:
    """A unified-diff-like text covering messages, parameters, variables and tags.

    Empty when the two contents are the same.
    """
    diff = diff_contents(old, new)
    if diff.is_empty:
        return ""
    out = [f"--- {old_label}", f"+++ {new_label}"]
    for message in diff.changed_messages:
        out.append(f"## {message.title}: {message.status}")
        if message.status == "changed" and message.old is not None and message.new is not None:
            hunks = difflib.unified_diff(
                split_lines(message.old.template),
                split_lines(message.new.template),
                lineterm="",
                n=3,
            )
            out.extend(list(hunks)[2:])  # drop difflib's own ---/+++ lines
        else:
            sign = "+" if message.status == "added" else "-"
            out.extend(
                f"{sign}{op.new_text if sign == '+' else op.old_text}" for op in message.lines
            )
    if diff.params:
        out.append("## parameters")
        out.extend(
            f"~ {p.key}: {format_value(p.old)} -> {format_value(p.new)}" for p in diff.params
        )
    if diff.variables:
        out.append("## variables")
        for change in diff.variables:
            out.extend(_variable_lines(change))
    if diff.tags_added or diff.tags_removed:
        out.append("## tags")
        out.extend(f"+ {tag}" for tag in diff.tags_added)
        out.extend(f"- {tag}" for tag in diff.tags_removed)
    return "\n".join(out) + "\n"


def _pair_row(left: str | None, right: str | None) -> SideBySideRow:
    if left == right:
        return SideBySideRow("equal", left, right)
    if left is None:
        return SideBySideRow("insert", None, right)
    if right is None:
        return SideBySideRow("delete", left, None)
    left_spans, right_spans = char_spans(left, right)
    return SideBySideRow("replace", left, right, left_spans, right_spans)


def _title(index: int | None, message: Message | None) -> str:
    return "" if index is None or message is None else f"message {index + 1} ({message.role})"


def side_by_side_rows(diff: ContentDiff) -> list[SideBySideRow]:
    """Rows for a two-column view: every message line, then the changed settings."""
    rows: list[SideBySideRow] = []
    for message in diff.messages:
        rows.append(
            SideBySideRow(
                "header",
                _title(message.old_index, message.old),
                _title(message.new_index, message.new),
            )
        )
        rows.extend(
            SideBySideRow(
                op.kind,
                op.old_text,
                op.new_text,
                op.old_spans,
                op.new_spans,
                op.old_lineno,
                op.new_lineno,
            )
            for op in message.lines
        )
    if diff.params:
        rows.append(SideBySideRow("header", "parameters", "parameters"))
        rows.extend(
            _pair_row(
                f"{p.key}: {format_value(p.old)}" if p.old not in (None, ()) else None,
                f"{p.key}: {format_value(p.new)}" if p.new not in (None, ()) else None,
            )
            for p in diff.params
        )
    if diff.variables:
        rows.append(SideBySideRow("header", "variables", "variables"))
        rows.extend(
            _pair_row(
                _describe_variable(c.old) if c.old else None,
                _describe_variable(c.new) if c.new else None,
            )
            for c in diff.variables
        )
    if diff.tags_added or diff.tags_removed:
        rows.append(SideBySideRow("header", "tags", "tags"))
        rows.extend(_pair_row(tag, None) for tag in diff.tags_removed)
        rows.extend(_pair_row(None, tag) for tag in diff.tags_added)
    return rows


def text_diff_rows(old: str, new: str) -> list[SideBySideRow]:
    """Rows for a two-column view of two plain texts (e.g. two models' answers):
    lines aligned, changed lines marked word by word (see :func:`word_spans`)."""
    return [
        SideBySideRow(
            op.kind,
            op.old_text,
            op.new_text,
            op.old_spans,
            op.new_spans,
            op.old_lineno,
            op.new_lineno,
        )
        for op in line_ops(split_lines(old), split_lines(new), word_spans)
    ]
