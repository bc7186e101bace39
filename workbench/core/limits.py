"""Bounds on a run that the CLI shows in its help and the engine enforces (no imports:
the CLI's parser reads these without loading pydantic)."""

DEFAULT_CALL_DEADLINE_S = 600.0
"""Ten minutes: longer than any real answer; a server that trickles keep-alives is not."""
DEFAULT_MAX_ANSWER_CHARS = 8_000_000
"""About 8 MB of text: far above any model's output limit, far below a runaway stream."""
MAX_PROMPT_CHARS = 2_000_000
"""A prompt's text (its templates and variable defaults together): about 500,000 tokens,
more than a model's context holds. Past it a file is data, not a prompt, and a commit,
search or render of it would only be slow."""
MAX_PROMPT_FILE_BYTES = 4 * MAX_PROMPT_CHARS
"""A prompt file bigger than this cannot hold a prompt within the bound (UTF-8 uses at
most 4 bytes a character): refused before it is read or parsed."""
