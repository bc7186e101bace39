"""What an API key looks like, for the two places that must know: redaction (hide it
in logs, errors and exports) and the prompt check (a key pasted into a template is
refused at commit, import and push, so it never reaches the vault or the registry).
"""

from __future__ import annotations

import re

_NOT_KEY_CHAR = r"(?<![A-Za-z0-9_-])"
KEY_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(_NOT_KEY_CHAR + r"sk-ant-[A-Za-z0-9_-]{8,}"),
    # sk- plus a long run holding a digit: a key, not a word like "sk-learn-style".
    re.compile(_NOT_KEY_CHAR + r"sk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}"),
    re.compile(_NOT_KEY_CHAR + r"AIza[0-9A-Za-z_-]{30,}"),
    re.compile(_NOT_KEY_CHAR + r"wbr_[A-Za-z0-9_-]{20,}"),  # a team registry token
)


def key_shaped(text: str) -> list[tuple[int, str]]:
    """``(offset, shown)`` of every key-shaped string in ``text``; ``shown`` keeps
    the first 6 and last 2 characters (enough to find it, not to use it)."""
    found = []
    for pattern in KEY_SHAPES:
        for m in pattern.finditer(text):
            value = m.group(0)
            found.append((m.start(), f"{value[:6]}…{value[-2:]}"))
    return sorted(found)
