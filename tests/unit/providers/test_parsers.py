"""The SSE and NDJSON decoders give the same result wherever the bytes are split:
inside a multi-byte character, between CR and LF, one byte at a time."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.providers.ndjson import NDJSONDecoder, NDJSONError
from workbench.providers.sse import SSEDecoder, SSEEvent

# Text without CR/LF (those end lines); includes multi-byte characters.
line_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=30,
)
field_value = line_text.filter(lambda s: not s.startswith(" "))
newline = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_stream(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent]]:
    """A stream and the events it must decode to."""
    events: list[SSEEvent] = []
    out: list[str] = []
    last_id: str | None = None

    def end() -> str:
        # A lone CR followed by an LF would be one CRLF line end, not two.
        chosen = draw(newline)
        return "\r\n" if chosen == "\n" and out and out[-1].endswith("\r") else chosen

    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.none() | st.sampled_from(["message_start", "content_block_delta", "x"]))
        data_lines = draw(st.lists(field_value, min_size=1, max_size=3))
        event_id = draw(st.none() | st.text(alphabet="abc123", min_size=1, max_size=4))
        if draw(st.booleans()):
            out.append(": a comment" + end())
        if name is not None:
            out.append(f"event: {name}" + end())
        if event_id is not None:
            out.append(f"id: {event_id}" + end())
            last_id = event_id
        for line in data_lines:
            out.append(("data:" if draw(st.booleans()) else "data: ") + line + end())
        out.append(end())
        events.append(SSEEvent(data="\n".join(data_lines), event=name or "message", id=last_id))
    return "".join(out).encode("utf-8"), events


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def decode_sse(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


@settings(max_examples=300, deadline=None)
@given(stream=sse_stream(), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_sse_any_split_gives_the_same_events(
    stream: tuple[bytes, list[SSEEvent]], cuts: list[int]
) -> None:
    data, expected = stream
    assert decode_sse([data]) == expected
    assert decode_sse(split_at(data, cuts)) == expected


@settings(max_examples=50, deadline=None)
@given(stream=sse_stream())
def test_sse_byte_by_byte(stream: tuple[bytes, list[SSEEvent]]) -> None:
    data, expected = stream
    assert decode_sse([data[i : i + 1] for i in range(len(data))]) == expected


def test_sse_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    assert decode_sse([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [SSEEvent(data="a\nb")]


def test_sse_unfinished_last_event_is_dropped_and_bom_ignored() -> None:
    assert decode_sse([b"\xef\xbb\xbfdata: 1\n\ndata: 2"]) == [SSEEvent(data="1")]


def test_sse_field_rules() -> None:
    events = decode_sse([b"retry: 250\nevent\ndata\ndata:  two spaces\nbogus: x\n\n\n"])
    assert events == [SSEEvent(data="\n two spaces", retry=250)]


records = st.lists(
    st.dictionaries(
        st.text(max_size=5),
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        max_size=4,
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    items=records,
    crlf=st.booleans(),
    blank=st.booleans(),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_ndjson_any_split_gives_the_same_records(
    items: list[dict[str, object]], crlf: bool, blank: bool, cuts: list[int]
) -> None:
    end = "\r\n" if crlf else "\n"
    text = "".join(json.dumps(i, ensure_ascii=False) + end + (end if blank else "") for i in items)
    data = text.encode("utf-8")
    decoder = NDJSONDecoder()
    got = [record for chunk in split_at(data, cuts) for record in decoder.feed(chunk)]
    assert got + decoder.close() == items


def test_ndjson_last_line_without_newline_counts() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"b"') == [{"a": 1}]
    assert decoder.feed(b": 2}") == []
    assert decoder.close() == [{"b": 2}]


def test_ndjson_garbage_is_an_error_naming_the_line() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError) as caught:
        decoder.feed(b'{"ok": true}\n{"model": "x", "mess\n')
    assert caught.value.line == '{"model": "x", "mess'
