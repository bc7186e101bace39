"""A folder of plain YAML files for teams that keep prompts in git.

One file per prompt, at the prompt's name with its folders (``support/reply`` is
``support/reply.yaml``), holding its latest version in the prompt-file format of
``workbench commit --file`` (:mod:`workbench.core.promptfile`); its test suite beside it
(``support/reply.cases.yaml``) in the case-file format of ``workbench cases set``
(:mod:`workbench.core.cases`). ``workbench vault export --dir`` writes them,
``workbench vault import --dir`` reads them back:

- The output is deterministic (stable key order, sorted where order means nothing,
  UTF-8, a newline at the end), so export -> import into an empty vault -> export gives
  the same bytes, and a diff in git shows only what a person changed.
- An import commits a new version only for a file whose content differs from the
  prompt's latest version (message "import from DIR"); suites likewise. Every file is
  read and checked first; any bad file is reported with its path and line and nothing
  is imported; the changes are then one transaction.
- Values of sensitive variables are never written to the folder (it is meant for git);
  an import keeps the vault's values for them, case by case.
- Folders and files whose names start with '.' (``.git``, ``.github``) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.app.interchange.common import (
    Parsed,
    Report,
    apply_parsed,
    cases_data,
    dump_yaml,
    sensitive_names,
    sorted_data,
)
from workbench.core.cases import parse_cases
from workbench.core.errors import InputError, UsageError
from workbench.core.files import read_text, write_atomic
from workbench.core.models import PromptContent, Variable, validate_prompt_name
from workbench.core.promptfile import content_to_file_data, parse_prompt_text
from workbench.vault import Vault

PROMPT_SUFFIX = ".yaml"
CASES_SUFFIX = ".cases.yaml"

_VARIABLE_DEFAULTS = {
    name: info.default
    for name, info in Variable.model_fields.items()
    if name not in ("name", "binding")
}


def prompt_file_data(content: PromptContent) -> dict[str, Any]:
    """The prompt-file mapping without the keys that hold their default (a variable's
    ``type: string``, ``required: true``, a binding's ``row: 1``), so files stay short."""
    data = content_to_file_data(content)
    for name, spec in (data.get("variables") or {}).items():
        compact = {
            k: sorted_data(v)
            for k, v in spec.items()
            if not (k in _VARIABLE_DEFAULTS and v == _VARIABLE_DEFAULTS[k])
            and not (k == "row" and v == 1)
        }
        data["variables"][name] = compact
    return data


def _unwritable(name: str) -> str | None:
    """Why ``name`` cannot round-trip through a folder, or None."""
    if name.endswith(CASES_SUFFIX.removesuffix(PROMPT_SUFFIX)):
        return (
            f"{name!r} cannot be written to a folder: its file would read as the test cases "
            f"of {name.removesuffix('.cases')!r}"
        )
    if any(part.startswith(".") for part in name.split("/")):
        return (
            f"{name!r} cannot be written to a folder: a part starting with '.' is a hidden "
            "file, which an import skips"
        )
    return None


def _paths(directory: Path, name: str) -> tuple[Path, Path]:
    return directory / f"{name}{PROMPT_SUFFIX}", directory / f"{name}{CASES_SUFFIX}"


def _write(path: Path, text: str, report: Report) -> None:
    data = text.encode("utf-8")
    if not (path.is_file() and path.read_bytes() == data):  # unchanged files keep mtimes
        write_atomic(path, data)
    report.written.append(str(path))


def export_dir(vault: Vault, directory: Path, names: Sequence[str] | None = None) -> Report:
    """Write the latest version and suite of each prompt (default: every prompt that is
    not archived) under ``directory``."""
    report = Report()
    chosen = list(names) if names else vault.prompt_names(include_archived=False)
    if not names:
        archived = len(vault.prompt_names()) - len(chosen)
        if archived:
            report.notes.append(
                f"{archived} archived prompt{'s are' if archived > 1 else ' is'} not written "
                "(name them to export them)"
            )
    writable = []
    for name in chosen:
        problem = _unwritable(name)
        if problem and names:
            raise UsageError(problem, hint="Rename the prompt, or leave it out of this export.")
        if problem:
            report.skipped.append(problem)
        else:
            writable.append(name)
    chosen = writable
    for name in chosen:
        versions = vault.history(name)
        if not versions:
            report.skipped.append(f"{name}: no versions yet (only test cases): not written")
            continue
        head = versions[-1]
        prompt_path, cases_path = _paths(directory, name)
        _write(prompt_path, dump_yaml(prompt_file_data(head.content)), report)
        cases = vault.test_cases(name)
        if cases:
            hidden = sensitive_names(head.content)
            _write(cases_path, dump_yaml({"cases": cases_data(cases, hidden)}), report)
            held = sorted(hidden & {k for c in cases for k in c.values})
            if held:
                report.notes.append(
                    f"{name}: values of sensitive variable{'s' if len(held) > 1 else ''} "
                    f"{', '.join(held)} are not written (an import keeps the vault's)"
                )
    return report


def _files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob(f"*{PROMPT_SUFFIX}")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def read_dir(directory: Path) -> list[Parsed]:
    """Every prompt and suite of the folder, checked; one error listing every bad file
    (path and line) if any is."""
    if not directory.is_dir():
        what = "not a folder" if directory.exists() else "no such folder"
        raise UsageError(f"{what}: {directory}", hint="Give the folder an export wrote (--dir).")
    problems: list[str] = []
    contents: dict[str, tuple[PromptContent, str]] = {}
    suites: dict[str, Any] = {}
    for path in _files(directory):
        rel = path.relative_to(directory).as_posix()
        is_cases = rel.endswith(CASES_SUFFIX)
        name = rel.removesuffix(CASES_SUFFIX if is_cases else PROMPT_SUFFIX)
        try:
            validate_prompt_name(name)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        try:
            text = read_text(path, "--dir")
            if is_cases:
                suites[name] = (parse_cases(text, "yaml", str(path)), path)
            else:
                contents[name] = (parse_prompt_text(text, str(path), "yaml"), str(path))
        except InputError as exc:
            problems.append(exc.message)
    for name, (_cases, path) in sorted(suites.items()):
        if name not in contents:
            problems.append(
                f"{path}: test cases without a prompt file beside them ({name}{PROMPT_SUFFIX})"
            )
    if problems:
        raise InputError(
            f"{len(problems)} bad file{'s' if len(problems) != 1 else ''} in {directory}; "
            "nothing was imported:\n  " + "\n  ".join(problems),
            hint="Fix the files named above (the prompt-file and case-file formats are in "
            "the README) and run the import again.",
        )
    return [
        Parsed(name, content, suites[name][0] if name in suites else None, origin)
        for name, (content, origin) in sorted(contents.items())
    ]


def import_dir(vault: Vault, directory: Path, *, role: str) -> Report:
    """Commit what changed in the folder, in one transaction."""
    report = Report()
    items = read_dir(directory)
    apply_parsed(vault, items, role=role, message=f"import from {directory}", report=report)
    return report
