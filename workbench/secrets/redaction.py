"""Keep secrets out of logs and out of any error text a person is shown.

Two nets, because either alone has holes:

- values we *know* are secret (every key read through :func:`resolve_key` is
  registered automatically; call :func:`register_secret` for others) are replaced
  wherever they appear;
- strings *shaped* like credentials are replaced even when never registered: OpenAI
  (``sk-...``) and Anthropic (``sk-ant-...``) keys, Google API keys (``AIza...``),
  and the credential part of ``Authorization:`` / ``x-api-key:`` headers and of
  ``Bearer ...`` tokens.

Use :func:`redact` before showing any error text; :func:`install_redaction` puts a
:class:`RedactingFilter` on the root logger's handlers.

A model's *successful* answer gets :func:`redact_output` before it is stored or
exported: a provider (or a proxy in front of it) that echoes the key back would
otherwise put it in the vault, the response cache and every export. Only the first
net applies there: an answer may legitimately contain text shaped like a key (an
example config, generated test data), so only values known to be secret are hidden.
"""

from __future__ import annotations

import logging
import re
import threading

from workbench.core.keys import KEY_SHAPES

REDACTED = "[REDACTED]"

# Values shorter than this are not plausible keys, and replacing them everywhere
# would shred ordinary text.
MIN_SECRET_LENGTH = 6

_SHAPED_LIKE_KEYS = KEY_SHAPES  # one definition (workbench.core.keys), also for prompts

# Header-like "name: value" / "name=value" (also inside reprs of dicts); keeps the
# name and the scheme, hides the credential.
_CREDENTIAL_FIELD = re.compile(
    r"(?i)((?:proxy-)?authorization|x-api-key|x-goog-api-key|api[_-]?key)"
    r"([\"']?\s*[:=]\s*[\"']?)"
    r"(?:(bearer|basic|token)\s+)?"
    r"([^\s\"',;]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")

_lock = threading.Lock()
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Remember ``value`` as secret: :func:`redact` will hide it from now on.

    Values shorter than ``MIN_SECRET_LENGTH`` (and pieces of the ``[REDACTED]``
    marker itself) are ignored.
    """
    global _known_pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or value in REDACTED:
        return
    with _lock:
        if value in _known:
            return
        _known.add(value)
        # Longest first, so a secret that contains another is hidden whole.
        ordered = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def _credential_field(match: re.Match[str]) -> str:
    name, separator, scheme = match.group(1), match.group(2), match.group(3)
    return f"{name}{separator}{scheme + ' ' if scheme else ''}{REDACTED}"


def redact(text: str) -> str:
    """``text`` with every registered secret and key-shaped string replaced."""
    if not text:
        return text
    pattern = _known_pattern  # one consistent snapshot; never mutated, only replaced
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for shaped in _SHAPED_LIKE_KEYS:
        text = shaped.sub(REDACTED, text)
    text = _CREDENTIAL_FIELD.sub(_credential_field, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def redact_output(text: str, *secrets: str | None) -> str:
    """A model's answer with every *known* secret replaced: the registered ones plus
    ``secrets`` (e.g. the key the call was made with; short values are ignored).

    Unlike :func:`redact`, strings merely shaped like keys are left alone.
    """
    if not text:
        return text
    for value in secrets:
        if value and len(value) >= MIN_SECRET_LENGTH and value not in REDACTED:
            text = text.replace(value, REDACTED)
    pattern = _known_pattern  # one consistent snapshot; never mutated, only replaced
    return pattern.sub(REDACTED, text) if pattern is not None else text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record's message, arguments and traceback.

    The message is formatted here (``msg % args``) and redacted as a whole, because a
    secret may only appear once the arguments are in place. The traceback text is
    rendered and redacted here too; formatters reuse ``record.exc_text``.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments: never let logging print them raw
            message = f"{record.msg} (unformattable log arguments: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_text = redact(text)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_filter = RedactingFilter()


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach the redacting filter to every handler of ``logger`` (default: root).

    Handler filters, not a logger filter: records from child loggers propagate to
    the root's *handlers* without passing the root logger's own filters. Also
    covers ``logging.lastResort``, used when no handler is configured. Call again
    after adding handlers; it never attaches twice.
    """
    target = logger if logger is not None else logging.getLogger()
    handlers = list(target.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
    return _filter
