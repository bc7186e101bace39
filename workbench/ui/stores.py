"""Small JSON stores the window keeps beside the vault: drafts and test cases.

Drafts hold unsaved edits so they survive a crash or a restart; test cases are
the rows of variable values a prompt is tried with. One file per prompt, written
atomically (temp file + rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.core.errors import BundleError
from workbench.core.files import write_atomic
from workbench.core.models import PromptContent
from workbench.core.runs import TestCase


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
    """Test cases per prompt, one JSON file each under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, prompt: str) -> list[TestCase]:
        path = _file_for(self.root, prompt)
        if not path.exists():
            return []
        data = json.loads(path.read_text("utf-8"))
        return [TestCase.model_validate(c) for c in data.get("cases", [])]

    def save(self, prompt: str, cases: list[TestCase]) -> None:
        _write_atomic(
            _file_for(self.root, prompt),
            {"prompt": prompt, "cases": [c.model_dump(mode="json") for c in cases]},
        )


def parse_cases(text: str, fmt: str) -> list[TestCase]:
    """Test cases from CSV (header row = variable names; optional ``name`` column),
    JSON or YAML (a list of objects, or ``{"cases": [...]}``; an object may be
    ``{"name": ..., "values": {...}}`` or just the values). Raises ``BundleError``."""
    fmt = fmt.lower().lstrip(".")
    try:
        if fmt == "csv":
            rows: list[Any] = list(csv.DictReader(io.StringIO(text)))
        elif fmt == "json":
            rows = json.loads(text)
        elif fmt in ("yaml", "yml"):
            rows = yaml.safe_load(text)
        else:
            raise BundleError(
                f"cannot read test cases from a .{fmt} file",
                hint="Use a .csv, .json, .yaml or .yml file.",
            )
    except (ValueError, yaml.YAMLError, csv.Error) as exc:
        raise BundleError(
            f"the {fmt.upper()} file is not readable: {exc}",
            hint="Check the file's syntax; a CSV needs a header row of variable names.",
        ) from exc
    if isinstance(rows, dict) and "cases" in rows:
        rows = rows["cases"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BundleError(
            "test cases must be a list of objects (one per case)",
            hint='E.g. [{"name": "short", "question": "Hi?"}] or {"cases": [...]}',
        )
    cases: list[TestCase] = []
    for index, row in enumerate(rows, start=1):
        if isinstance(row.get("values"), dict):
            values = dict(row["values"])
            name = str(row.get("name") or f"case {index}")
        else:
            values = {str(k): v for k, v in row.items() if k != "name" and k is not None}
            name = str(row.get("name") or f"case {index}")
        cases.append(TestCase(name=name, values=values))
    if not cases:
        raise BundleError("the file holds no test cases", hint="Add at least one row.")
    return cases
