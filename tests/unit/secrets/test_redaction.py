"""Redaction: known secrets and key-shaped strings never reach logs or error text."""

from __future__ import annotations

import io
import logging
import string
from collections.abc import Iterator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workbench.secrets import REDACTED, RedactingFilter, install_redaction, redact, register_secret

KEY_CHARS = string.ascii_letters + string.digits + "_-"

# A key body always holds a digit, as real keys do (see the redaction module).
key_bodies = st.text(alphabet=KEY_CHARS, min_size=24, max_size=60).filter(
    lambda s: any(c.isdigit() for c in s)
)
# Text around a key in a log line: anything, but the key is its own token.
surroundings = st.text(max_size=40)
separators = st.sampled_from([" ", "\n", "'", '"', "=", ": ", "(", ",", "\t"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-proj-abc123DEF456ghi789JKL0 failed", f"key {REDACTED} failed"),
        ("sk-ant-" + "api03-abcdefghijklmnop", REDACTED),  # split: no key-shaped literal
        ("?key=AIzaSyA1234567890abcdefghijklmnopqrstu&x=1", f"?key={REDACTED}&x=1"),
        ("Authorization: Bearer abc.def.ghi-123", f"Authorization: Bearer {REDACTED}"),
        ("{'authorization': 'Bearer tok_abcdef123'}", f"{{'authorization': 'Bearer {REDACTED}'}}"),
        ("authorization=Basic dXNlcjpwYXNz", f"authorization=Basic {REDACTED}"),
        ("x-api-key: plainvalue123", f"x-api-key: {REDACTED}"),
        ("OPENAI_API_KEY=whatever-it-is", f"OPENAI_API_KEY={REDACTED}"),
        ("sent bearer eyJhbGciOiJIUzI1NiJ9.e30.x", f"sent bearer {REDACTED}"),
    ],
)
def test_key_shaped_strings_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "prompt support/task-classification-long-v2 not found",
        "use scikit-learn style sk-learn-like naming",
        "the AIza prefix alone is not a key",
        "",
        "version 3 of 'greet' is approved",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


@given(prefix=surroundings, sep1=separators, body=key_bodies, sep2=separators, suffix=surroundings)
def test_openai_shaped_keys_never_survive(
    prefix: str, sep1: str, body: str, sep2: str, suffix: str
) -> None:
    key = f"sk-{body}"
    out = redact(prefix + sep1 + key + sep2 + suffix)
    assert key not in out
    assert REDACTED in out


@given(body=st.text(alphabet=KEY_CHARS + "!@#$%^&*.+/", min_size=1, max_size=40),
       prefix=st.text(max_size=30), suffix=st.text(max_size=30))  # fmt: skip
def test_registered_secrets_never_survive_anywhere(body: str, prefix: str, suffix: str) -> None:
    # Registration is process-wide: the prefix keeps these values from ever
    # matching text in other tests.
    secret = f"wbtest-{body}"
    register_secret(secret)
    out = redact(prefix + secret + suffix + secret)
    assert secret not in out


@given(text=st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(text=st.text(alphabet=string.ascii_letters + string.digits + " .,:/()\n", max_size=120))
def test_text_without_credential_markers_is_unchanged(text: str) -> None:
    lowered = text.lower()
    assume(not any(m in lowered for m in ("sk-", "aiza", "bearer", "authorization", "key")))
    assert redact(text) == text


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    register_secret("DACTE")  # a piece of the marker itself
    assert redact("abc abc") == "abc abc"


# ------------------------------------------------------------------ logging


@pytest.fixture
def captured_root() -> Iterator[io.StringIO]:
    """A stream handler on the root logger, as an app would configure one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for other in [*root.handlers, logging.lastResort]:
            if other is not None:
                for flt in [f for f in other.filters if isinstance(f, RedactingFilter)]:
                    other.removeFilter(flt)


def test_install_redaction_covers_child_loggers_args_and_tracebacks(
    captured_root: io.StringIO,
) -> None:
    secret = "registry-token-5a4b3c2d1e"
    register_secret(secret)
    installed = install_redaction()
    assert install_redaction() is installed  # idempotent
    handler = logging.getLogger().handlers[-1]
    assert handler.filters.count(installed) == 1

    log = logging.getLogger("workbench.providers.test")
    log.info("calling with %s and %r", secret, {"authorization": "Bearer abcdefgh12345"})
    try:
        raise RuntimeError(f"server rejected key sk-proj-{'a1' * 12}")
    except RuntimeError:
        log.exception("request failed for token=%s", secret)

    text = captured_root.getvalue()
    assert secret not in text
    assert "abcdefgh12345" not in text
    assert "a1a1a1a1a1a1" not in text
    assert "RuntimeError" in text  # the traceback is kept, only the key is gone
    assert text.count(REDACTED) >= 4


def test_filter_survives_bad_format_arguments() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "two args %s %s", ("sk-ant-oneonlyarg-123",), None
    )
    assert RedactingFilter().filter(record)
    assert "oneonlyarg" not in record.getMessage()
