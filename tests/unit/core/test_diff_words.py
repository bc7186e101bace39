"""Word-level diff of two plain texts (two cells' answers)."""

from __future__ import annotations

from workbench.core.diff import char_spans, word_spans
from workbench.core.diff_views import text_diff_rows


def _marked(text: str, spans: tuple[tuple[int, int], ...]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_word_spans_mark_whole_words() -> None:
    old, new = "The refund was sent on Monday.", "The refund is sent on Tuesday."
    o, n = word_spans(old, new)
    assert _marked(old, o) == ["was", "Monday"]
    assert _marked(new, n) == ["is", "Tuesday"]
    # The character diff finds letters in common inside the changed words.
    co, _cn = char_spans(old, new)
    assert _marked(old, co) != ["was", "Monday"]


def test_word_spans_join_a_changed_phrase() -> None:
    old, new = "please wait two days", "please call us today"
    o, n = word_spans(old, new)
    assert _marked(old, o) == ["wait two days"]
    assert _marked(new, n) == ["call us today"]


def test_text_diff_rows_align_lines() -> None:
    rows = text_diff_rows(
        "hello\nsame line\nold words here", "hello\nsame line\nnew words here\nadded"
    )
    assert [r.kind for r in rows] == ["equal", "equal", "replace", "insert"]
    changed = rows[2]
    assert changed.left is not None and changed.right is not None
    assert _marked(changed.left, changed.left_spans) == ["old"]
    assert _marked(changed.right, changed.right_spans) == ["new"]
    assert rows[3].right == "added" and rows[3].right_lineno == 4


def test_identical_texts_have_only_equal_rows() -> None:
    assert {r.kind for r in text_diff_rows("a b\nc", "a b\nc")} == {"equal"}
