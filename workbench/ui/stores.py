"""What the window keeps besides versions: drafts (files) and test cases (the vault).

Drafts hold unsaved edits so they survive a crash or a restart: one JSON file per
prompt beside the vault, written atomically so a crash never leaves half a file.
Test cases are the rows of variable values a prompt is tried with; they live in
the vault with the prompt.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.core.files import write_atomic
from workbench.core.models import PromptContent
from workbench.core.runs import TestCase
from workbench.ui.ops import VaultWriter
from workbench.vault import Vault


def _file_for(root: Path, prompt: str) -> Path:
    # Prompt names hold '/', so hash them into a flat, safe file name.
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]
    return root / f"{digest}.json"


def _write_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))


@dataclass(frozen=True)
class Draft:
    prompt: str
    base_id: uuid.UUID | None
    content: PromptContent
    commit_message: str = ""


class DraftStore:
    """Unsaved edits, one JSON file per prompt under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, draft: Draft) -> None:
        _write_atomic(
            _file_for(self.root, draft.prompt),
            {
                "prompt": draft.prompt,
                "base_id": str(draft.base_id) if draft.base_id else None,
                "content": draft.content.model_dump(mode="json"),
                "commit_message": draft.commit_message,
            },
        )

    def load(self, prompt: str) -> Draft | None:
        path = _file_for(self.root, prompt)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
            return Draft(
                prompt=data["prompt"],
                base_id=uuid.UUID(data["base_id"]) if data.get("base_id") else None,
                content=PromptContent.model_validate(data["content"]),
                commit_message=data.get("commit_message", ""),
            )
        except (ValueError, KeyError, TypeError, ValidationError):
            # A damaged draft must not block opening the prompt; keep it for inspection.
            path.rename(path.with_suffix(".damaged"))
            return None

    def discard(self, prompt: str) -> None:
        _file_for(self.root, prompt).unlink(missing_ok=True)

    def prompts(self) -> set[str]:
        """Names of prompts that have a draft (reads every draft: call it rarely)."""
        names: set[str] = set()
        if not self.root.exists():
            return names
        for path in self.root.glob("*.json"):
            try:
                names.add(json.loads(path.read_text("utf-8"))["prompt"])
            except (ValueError, KeyError, OSError):
                continue
        return names


class CaseStore:
    """Test cases per prompt, kept in the vault with the prompt (exported in bundles,
    used by ``workbench compare`` when no case file is given)."""

    def __init__(self, vault: Vault, writer: VaultWriter | None = None) -> None:
        self.vault = vault
        self.writer = writer
        self._pending: dict[str, list[TestCase]] = {}
        """Saves queued behind a long write (an import): what load() answers meanwhile."""

    def load(self, prompt: str) -> list[TestCase]:
        pending = self._pending.get(prompt)
        return list(pending) if pending is not None else self.vault.test_cases(prompt)

    def save(self, prompt: str, cases: list[TestCase]) -> None:
        """Through the window's vault writer: now when it is idle, else after what runs."""
        if self.writer is None:
            self.vault.set_test_cases(prompt, cases)
            return
        vault, saved = self.vault, list(cases)

        def done(_none: None) -> None:
            if self._pending.get(prompt) is saved:
                del self._pending[prompt]

        def failed(exc: BaseException) -> None:
            self._pending.pop(prompt, None)  # what load() answers is the vault's again
            raise exc  # the writer reports a WorkbenchError; anything else is a bug

        self._pending[prompt] = saved
        self.writer.write(
            f"saving the test cases of {prompt}",
            lambda: vault.set_test_cases(prompt, saved),
            done,
            failed,
        )
