"""Bounds on a run that the CLI shows in its help and the engine enforces (no imports:
the CLI's parser reads these without loading pydantic)."""

DEFAULT_CALL_DEADLINE_S = 600.0
"""Ten minutes: longer than any real answer; a server that trickles keep-alives is not."""
DEFAULT_MAX_ANSWER_CHARS = 8_000_000
"""About 8 MB of text: far above any model's output limit, far below a runaway stream."""
