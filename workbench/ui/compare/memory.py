"""The Compare choices remembered between sessions: the ticked models, each prompt's
ticked versions, and the options (repeats, cache, the grid's filters and grouping),
kept as JSON in ``QSettings`` under ``compare/``. A damaged entry reads as nothing
remembered, so the defaults apply."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSettings

REMEMBERED_PROMPTS = 200
"""Prompts whose ticked versions are remembered (the most recently used)."""


class ChoicesMemory:
    """Reads and writes the remembered choices; with no ``QSettings``, remembers nothing."""

    def __init__(self, settings: QSettings | None) -> None:
        self.settings = settings

    def _recall(self, key: str) -> object:
        if self.settings is None:
            return None
        try:
            return json.loads(str(self.settings.value(f"compare/{key}", "null")))
        except ValueError:
            return None  # a damaged entry: the defaults apply

    def models(self) -> list[str]:
        value = self._recall("models")
        return [str(m) for m in value] if isinstance(value, list) else []

    def versions(self, prompt: str | None) -> list[uuid.UUID]:
        value = self._recall("versions")
        ids = value.get(prompt, []) if isinstance(value, dict) and prompt else []
        out = []
        for text in ids if isinstance(ids, list) else []:
            try:
                out.append(uuid.UUID(str(text)))
            except ValueError:
                continue
        return out

    def options(self) -> dict[str, object]:
        value = self._recall("options")
        return value if isinstance(value, dict) else {}

    def remember(
        self,
        models: Sequence[str] | None,
        prompt: str | None,
        versions: Sequence[object],
        options: Mapping[str, object],
    ) -> None:
        """Write the current choices (``models`` None: none offered, keep the old;
        ``prompt`` None: no versions to remember)."""
        if self.settings is None:
            return
        if models is not None:
            self.settings.setValue("compare/models", json.dumps(list(models)))
        if prompt is not None:
            value = self._recall("versions")
            remembered = value if isinstance(value, dict) else {}
            remembered.pop(prompt, None)
            remembered[prompt] = [str(v) for v in versions]
            kept = dict(list(remembered.items())[-REMEMBERED_PROMPTS:])  # the latest prompts
            self.settings.setValue("compare/versions", json.dumps(kept))
        self.settings.setValue("compare/options", json.dumps(dict(options)))
