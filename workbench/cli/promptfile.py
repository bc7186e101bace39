"""The prompt file of ``workbench commit --file``: its reader lives in
:mod:`workbench.core.promptfile` (pure, so the folder import of the app layer reads the
same format); this module keeps the CLI's old import path."""

from __future__ import annotations

from workbench.core.promptfile import (
    BINDING_KEYS,
    HINT,
    content_to_file_data,
    parse_prompt_text,
    read_prompt_file,
)

__all__ = [
    "BINDING_KEYS",
    "HINT",
    "content_to_file_data",
    "parse_prompt_text",
    "read_prompt_file",
]
