"""promptfoo configuration files (``promptfooconfig.yaml``) in and out.

Written from promptfoo's documented configuration format (prompts, providers, tests,
defaultTest, assertions); none of its code. What maps:

- ``prompts``: inline strings, ``{raw, label}`` / ``{id: file://...}`` entries, and
  ``file://`` paths relative to the configuration (``.txt``/``.md`` text, split at
  ``---`` lines as promptfoo does; ``.json``/``.yaml`` chat messages; an inline string
  that is a JSON list of ``{role, content}`` is a chat prompt too). Each prompt becomes
  a workbench prompt (one: ``NAME``; several: ``NAME/LABEL``); promptfoo's Nunjucks
  ``{{ var }}`` is Jinja's. Variables are declared from the templates, typed by the
  first test's value. JavaScript/Python prompt functions are skipped (reported).
- ``providers``: ``openai:...``, ``anthropic:...``, ``ollama:...`` (with or without the
  API word, ``openai:chat:gpt-4o``) map to ``PROFILE:MODEL`` on a profile named after
  the family, ``echo`` to ``echo:echo``; the first one's ``config`` (temperature,
  max_tokens, top_p, stop) becomes the model defaults; all mapped ones are listed for
  ``--models``. Any other provider is reported as not mapped.
- ``tests`` (a list, or a ``file://`` YAML/JSON list) and ``defaultTest`` (vars and
  assertions merged into every test; ``options.provider`` is the rubric grader): each
  test is a case (``description`` is its name; a var holding a list makes one case per
  value, as in promptfoo). Assertions map as in :data:`MAPPED`; ``javascript`` and
  ``python`` run code and are skipped (except the ``output.length <= N`` this module
  writes for ``max_chars``), as is every other kind; each skip is reported.

Reading the tests and their assertions is :mod:`.promptfoo_cases`; writing is
:mod:`.promptfoo_export`; what both directions share is :mod:`.promptfoo_format`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.app.interchange.common import (
    Parsed,
    Report,
    declare,
    slug,
)
from workbench.app.interchange.promptfoo_cases import CaseReader, parse_yaml
from workbench.app.interchange.promptfoo_format import (
    HINT,
    first_error,
    map_provider,
)
from workbench.core.errors import InputError, TemplateError, UsageError
from workbench.core.files import read_text
from workbench.core.models import (
    Message,
    ModelDefaults,
    PromptContent,
    split_model_ref,
    validate_prompt_name,
)
from workbench.core.templating import template_variables

# ---- reading --------------------------------------------------------------------------


class _Reader(CaseReader):
    """Reads a configuration's prompts and providers; its tests as :class:`CaseReader`."""

    # prompts
    def prompts(self, spec: Any) -> list[tuple[str, tuple[Message, ...]]]:
        """(label, messages) of each prompt."""
        if isinstance(spec, str):
            spec = [spec]
        if isinstance(spec, dict):  # {file://path: label}
            spec = [{"id": k, "label": v} for k, v in spec.items()]
        if not isinstance(spec, list) or not spec:
            raise self.fail("'prompts' must be a prompt or a list of prompts")
        out: list[tuple[str, tuple[Message, ...]]] = []
        for i, entry in enumerate(spec, start=1):
            label = ""
            if isinstance(entry, dict):
                label = str(entry.get("label") or "")
                raw = entry.get("raw")
                ref = entry.get("id") if raw is None else None
                entry = raw if raw is not None else ref
            if not isinstance(entry, str):
                raise self.fail(f"prompt {i} is neither text nor a file:// path")
            if entry.startswith("file://"):
                out.extend(self.prompt_files(entry, label))
            else:
                out.append((label, self.messages(entry)))
        return out

    def prompt_files(self, ref: str, label: str) -> list[tuple[str, tuple[Message, ...]]]:
        target = ref.removeprefix("file://")
        if target.endswith((".py", ".js", ".ts", ".mjs", ".cjs")) or re.search(r":\w+$", target):
            self.report.skipped.append(f"prompt {ref}: a prompt function runs code: not imported")
            return []
        paths = (
            sorted(self.base.glob(target))
            if any(c in target for c in "*?[")
            else [self.base / target]
        )
        out = []
        if not paths:
            raise self.fail(f"prompts {ref}: no file matches it")
        for path in paths:
            if path.suffix.lower() in (".json", ".yaml", ".yml"):
                data = self.load(f"file://{path.relative_to(self.base).as_posix()}")
                out.append((label or path.stem, self.chat(data, str(path))))
                continue
            text = read_text(path, "file://")
            parts = [p.strip("\n") for p in re.split(r"^---$", text, flags=re.M)]
            parts = [p for p in parts if p.strip()]
            for n, part in enumerate(parts, start=1):
                name = label or path.stem
                out.append((name if len(parts) == 1 else f"{name}-{n}", self.messages(part)))
        return out

    def messages(self, text: str) -> tuple[Message, ...]:
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                data = json.loads(stripped)
            except json.JSONDecodeError:
                data = None
            if isinstance(data, list) and data and all(isinstance(m, dict) for m in data):
                return self.chat(data, f"{self.path}: an inline prompt")
        return (Message(role="user", template=text),)

    def chat(self, data: Any, where: str) -> tuple[Message, ...]:
        if not isinstance(data, list) or not data:
            raise InputError(f"{where}: a chat prompt is a list of {{role, content}}", hint=HINT)
        out = []
        for n, m in enumerate(data, start=1):
            role = m.get("role") if isinstance(m, dict) else None
            content = m.get("content") if isinstance(m, dict) else None
            if role not in ("system", "user", "assistant") or not isinstance(content, str):
                raise InputError(
                    f"{where}: message {n} needs a role (system, user, assistant) and text content",
                    hint=HINT,
                )
            out.append(Message(role=role, template=content))
        return tuple(out)

    # providers
    def providers(self, spec: Any) -> list[tuple[str, dict[str, Any]]]:
        """(model ref, config) of each provider that maps."""
        if spec is None:
            return []
        if isinstance(spec, str):
            spec = [spec]
        if isinstance(spec, dict):
            spec = [{"id": k, **(v if isinstance(v, dict) else {})} for k, v in spec.items()]
        if not isinstance(spec, list):
            raise self.fail("'providers' must be a provider id or a list of them")
        out = []
        for entry in spec:
            config: dict[str, Any] = {}
            if isinstance(entry, dict) and len(entry) == 1 and "id" not in entry:
                key, value = next(iter(entry.items()))  # {openai:gpt-4o: {config: ...}}
                entry = {"id": key, **(value if isinstance(value, dict) else {})}
            if isinstance(entry, dict):
                config = entry.get("config") or {}
                entry = entry.get("id")
            if not isinstance(entry, str):
                self.report.skipped.append(f"provider {entry!r}: not a provider id: not mapped")
                continue
            ref = map_provider(entry)
            if ref is None:
                self.report.skipped.append(
                    f"provider {entry}: no workbench family for it: not mapped "
                    "(add a profile and pass it to --models)"
                )
                continue
            out.append((ref, config if isinstance(config, dict) else {}))
        return out


def read_promptfoo(
    path: Path, *, name: str | None = None, grader: str | None = None
) -> tuple[list[Parsed], Report]:
    """The prompts (each with the configuration's suite) and what could not map."""
    report = Report()
    if grader is not None:
        try:
            split_model_ref(grader)
        except ValueError as exc:
            raise UsageError(f"--grader {exc}", hint="e.g. --grader openai:gpt-4o-mini") from exc
    reader = _Reader(path, grader, report)
    data = parse_yaml(read_text(path, "FILE"), str(path))
    if not isinstance(data, dict):
        raise reader.fail("expected a mapping with 'prompts', 'providers' and 'tests'")
    if "prompts" not in data:
        raise reader.fail("it has no 'prompts'")
    prompts = reader.prompts(data["prompts"])
    if not prompts:
        raise reader.fail("none of its prompts could be imported (see what was skipped)")
    providers = reader.providers(data.get("providers"))
    report.models = [ref for ref, _ in providers]
    default = data.get("defaultTest") or {}
    if isinstance(default, str):
        default = reader.load(default)
    if not isinstance(default, dict):
        raise reader.fail("'defaultTest' must be a mapping")
    cases = reader.tests(data.get("tests"), default)
    model = _model_defaults(providers, report)
    samples: dict[str, list[Any]] = {}
    for case in cases:
        for key, value in case.values.items():
            samples.setdefault(key, []).append(value)
    base = name or _name_from(str(data.get("description") or ""), path)
    items: list[Parsed] = []
    used: set[str] = set()
    for i, (label, messages) in enumerate(prompts, start=1):
        prompt_name = base if len(prompts) == 1 else f"{base}/{slug(label, f'prompt-{i}')}"
        while prompt_name in used:
            prompt_name += f"-{i}"
        used.add(prompt_name)
        names: set[str] = set()
        for m in messages:  # a bad template is reported, with the file, by the import's check
            with contextlib.suppress(TemplateError):
                names |= template_variables(m.template)
        content = PromptContent(
            messages=messages, model=model, variables=declare(sorted(names), samples)
        )
        items.append(Parsed(prompt_name, content, cases or None, str(path)))
    report.notes = list(dict.fromkeys(report.notes))  # once, not once per test
    report.skipped = list(dict.fromkeys(report.skipped))
    return items, report


def _name_from(description: str, path: Path) -> str:
    """The prompt name when none is given: the description if it is a valid name (an
    export writes the prompt's name there), else a slug of it, else the folder's name."""
    try:
        return validate_prompt_name(description.strip())
    except ValueError:
        return slug(description, "") or slug(path.resolve().parent.name, "promptfoo")


def _model_defaults(
    providers: Sequence[tuple[str, dict[str, Any]]], report: Report
) -> ModelDefaults:
    if not providers:
        return ModelDefaults()
    ref, config = providers[0]
    known: dict[str, Any] = {
        k: config[k] for k in ("temperature", "max_tokens", "top_p") if k in config
    }
    if "stop" in config:
        stop = config["stop"]
        known["stop"] = tuple(stop) if isinstance(stop, list) else (str(stop),)
    left = sorted(set(config) - {"temperature", "max_tokens", "top_p", "stop"})
    if left:
        report.notes.append(f"provider {ref}: config {', '.join(left)} not carried over")
    try:
        return ModelDefaults(model=ref, **known)
    except ValidationError as exc:
        raise InputError(f"provider {ref}: {first_error(exc)}", hint=HINT) from exc
