""".prompty files (Microsoft Prompty) in and out.

A ``.prompty`` file is YAML front matter between ``---`` lines, then a templated body
whose messages start at role markers (a line ``system:``, ``user:`` or ``assistant:``;
text before the first marker is the system message). What maps, written from Prompty's
documented format:

- ``model``: the 1.x shape (``configuration: {type, name | azure_deployment}``,
  ``parameters: {temperature, max_tokens, top_p, stop, response_format}``) and the 2.x
  shape (``id``, ``provider``, ``options: {temperature, maxOutputTokens, topP,
  stopSequences}``). ``openai``/``anthropic``/``ollama`` become ``PROFILE:MODEL`` on a
  profile of that name; another type keeps the bare model (deployment) name and is
  reported. Connection settings (endpoints, keys, ``${env:...}``) are never read.
- ``inputs`` (a mapping or a 2.x list; ``type``/``kind``, ``description``, ``default``,
  ``required``) become variables (object/array are type json); ``sample`` (a mapping or
  a JSON file beside it), else the inputs' ``example``/``sample`` values, becomes one
  test case named ``sample``.
- ``tags`` (or ``metadata.tags``) become tags. ``template`` other than jinja2 (2.x
  mustache) is imported as text and reported: ``{{ name }}`` means the same in both.

An export writes the 1.x shape (what the Prompty tools and Prompt flow read): the
version's messages with role markers, its model defaults, its variables as inputs (a
non-public sensitivity as an extra ``sensitivity`` key that Prompty ignores), and one
case as ``sample`` (the one named ``sample``, else the first). Other cases, assertions,
fallbacks and sensitive values are left out and reported. Prompty trims the blank lines
around each message, so an import does too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.app.interchange.common import (
    Parsed,
    Report,
    dump_yaml,
    sensitive_names,
    slug,
    sorted_data,
)
from workbench.core.errors import InputError
from workbench.core.files import load_yaml, read_text
from workbench.core.models import (
    TAG_RE,
    Message,
    ModelDefaults,
    PromptContent,
    PromptVersion,
    Variable,
    split_model_ref,
    validate_prompt_name,
)
from workbench.core.runs import TestCase

HINT = "See 'Interchange' in the README for what a .prompty file may hold."
ROLE_MARKER = re.compile(r"^\s*#?\s*(system|user|assistant)\s*:\s*$", re.IGNORECASE)
FAMILIES = ("openai", "anthropic", "ollama")
_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "object": "json",
    "array": "json",
    "list": "json",
    "json": "json",
}
_EXPORT_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "json": "object",
}


def _split(text: str, where: str) -> tuple[str, str, int]:
    """(front matter, body, the body's first line number)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].strip() != "---":
        raise InputError(
            f"{where}: a .prompty file starts with a '---' line (its YAML front matter)",
            hint=HINT,
        )
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise InputError(
            f"{where}, line {start + 1}: the front matter has no closing '---' line", hint=HINT
        )
    return "".join(lines[start + 1 : end]), "".join(lines[end + 1 :]), end + 2


def _messages(body: str, where: str, first_line: int) -> tuple[Message, ...]:
    parts: list[tuple[str, list[str]]] = []
    role, chunk = "system", list[str]()
    for line in body.splitlines():
        marker = ROLE_MARKER.match(line)
        if marker:
            parts.append((role, chunk))
            role, chunk = marker.group(1).lower(), []
        else:
            chunk.append(line)
    parts.append((role, chunk))
    out = [
        Message.model_validate({"role": r, "template": "\n".join(c).strip("\n")})
        for r, c in parts
        if "\n".join(c).strip()
    ]
    if not out:
        raise InputError(
            f"{where}, line {first_line}: the body holds no message (write 'system:' or "
            "'user:' on a line, then the text)",
            hint=HINT,
        )
    return tuple(out)


def _model(spec: Any, report: Report) -> ModelDefaults:
    if not isinstance(spec, dict):
        return ModelDefaults()
    config = spec.get("configuration") or {}
    params = spec.get("parameters") or {}
    if "id" in spec or "options" in spec:  # the 2.x shape
        config = {"type": spec.get("provider"), "name": spec.get("id")}
        options = spec.get("options") or {}
        params = {
            "temperature": options.get("temperature"),
            "max_tokens": options.get("maxOutputTokens"),
            "top_p": options.get("topP"),
            "stop": options.get("stopSequences"),
        }
    kind = config.get("type") if isinstance(config, dict) else None
    model_name = None
    if isinstance(config, dict):
        model_name = config.get("name") or config.get("azure_deployment") or config.get("model")
    ref: str | None = None
    if isinstance(model_name, str) and model_name and "${" not in model_name:
        if kind in FAMILIES:
            ref = f"{kind}:{model_name}"
        else:
            ref = model_name
            if kind:
                report.notes.append(
                    f"model type {kind}: no workbench family; the model is {model_name!r} "
                    "without a profile (name one with --models when you run it)"
                )
    fields: dict[str, Any] = {"model": ref}
    if isinstance(params, dict):
        for key in ("temperature", "max_tokens", "top_p"):
            if params.get(key) is not None:
                fields[key] = params[key]
        stop = params.get("stop")
        if stop:
            fields["stop"] = tuple(stop) if isinstance(stop, list) else (str(stop),)
        fmt = params.get("response_format")
        fmt_type = fmt.get("type") if isinstance(fmt, dict) else fmt
        if fmt_type in ("text", "json_object"):
            fields["response_format"] = fmt_type
        left = sorted(
            set(params) - {"temperature", "max_tokens", "top_p", "stop", "response_format"}
        )
        if left:
            report.notes.append(f"model parameters {', '.join(left)}: not carried over")
    try:
        return ModelDefaults(**fields)
    except ValidationError as exc:
        raise InputError(f"model: {exc.errors()[0]['msg']}", hint=HINT) from exc


def _inputs(spec: Any, report: Report) -> tuple[list[Variable], dict[str, Any]]:
    """Variables and the sample values the inputs themselves give."""
    if isinstance(spec, list):  # 2.x: a list of properties with names
        spec = {p.get("name"): p for p in spec if isinstance(p, dict) and p.get("name")}
    if not isinstance(spec, dict):
        return [], {}
    variables, samples = [], {}
    for name, prop in spec.items():
        if not isinstance(prop, dict):  # name: sample value
            prop = {"sample": prop}
        kind = str(prop.get("type") or prop.get("kind") or "string")
        if kind not in _TYPES:
            report.notes.append(f"input {name}: type {kind} read as string")
        fields: dict[str, Any] = {"name": name, "type": _TYPES.get(kind, "string")}
        if prop.get("description"):
            fields["description"] = str(prop["description"])
        if prop.get("default") is not None:
            fields["default"] = prop["default"]
        if prop.get("required") is False:
            fields["required"] = False
        if prop.get("sensitivity") in ("internal", "sensitive"):
            fields["sensitivity"] = prop["sensitivity"]
        try:
            variables.append(Variable.model_validate(fields))
        except ValidationError as exc:
            raise InputError(f"input {name!r}: {exc.errors()[0]['msg']}", hint=HINT) from exc
        for key in ("sample", "example"):
            if prop.get(key) is not None:
                samples[name] = prop[key]
    return variables, samples


def read_prompty(path: Path, *, name: str | None = None) -> tuple[list[Parsed], Report]:
    report = Report()
    text = read_text(path, "FILE")
    front, body, body_line = _split(text, str(path))
    import yaml

    try:
        meta = load_yaml(front) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f", line {mark.line + 2}" if mark else ""
        raise InputError(f"{path}{at}: invalid YAML in the front matter", hint=HINT) from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: the front matter must be a mapping", hint=HINT)
    try:
        messages = _messages(body, str(path), body_line)
        model = _model(meta.get("model"), report)
        variables, samples = _inputs(meta.get("inputs"), report)
    except InputError as exc:
        if exc.message.startswith(str(path)):
            raise
        raise InputError(f"{path}: {exc.message}", hint=exc.hint) from exc
    template = meta.get("template")
    kind = template.get("format", template.get("type")) if isinstance(template, dict) else template
    if isinstance(kind, dict):
        kind = kind.get("kind")
    if kind not in (None, "jinja2"):
        report.notes.append(f"template {kind}: imported as Jinja ({{{{ name }}}} reads the same)")
    raw_tags = meta.get("tags") or (meta.get("metadata") or {}).get("tags") or []
    tags = [str(t) for t in raw_tags if TAG_RE.match(str(t))] if isinstance(raw_tags, list) else []
    if isinstance(raw_tags, list) and len(tags) < len(raw_tags):
        report.notes.append("tags with spaces or other characters were left out")
    sample = meta.get("sample")
    if isinstance(sample, str) and sample.strip():
        ref = sample.strip().removeprefix("${file:").removesuffix("}")
        loaded = read_text(path.parent / ref, "the sample file")
        try:
            sample = json.loads(loaded) if ref.endswith(".json") else load_yaml(loaded)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"{path.parent / ref}: not a JSON or YAML mapping", hint=HINT) from exc
    values = {**samples, **(sample if isinstance(sample, dict) else {})}
    cases = [TestCase(name="sample", values=values)] if values else None
    try:
        content = PromptContent(
            messages=messages, model=model, variables=tuple(variables), tags=tuple(tags)
        )
    except ValidationError as exc:
        raise InputError(f"{path}: {exc.errors()[0]['msg']}", hint=HINT) from exc
    prompt_name = name or _name_from(str(meta.get("name") or ""), path)
    return [Parsed(prompt_name, content, cases, str(path))], report


def _name_from(given: str, path: Path) -> str:
    try:
        return validate_prompt_name(given.strip())
    except ValueError:
        return slug(given, "") or slug(path.stem, "prompty")


def write_prompty(
    version: PromptVersion,
    cases: Sequence[TestCase],
    *,
    profiles: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[str, Report]:
    """The .prompty text for ``version`` with one case as its sample, and what was left
    out. ``profiles``: profile name -> (API family, base URL), from the settings."""
    report = Report()
    content = version.content
    meta: dict[str, Any] = {
        "name": version.prompt,
        "description": f"{version.prompt} {version.display_number}, from Prompt Workbench",
    }
    if content.tags:
        meta["tags"] = list(content.tags)
    model: dict[str, Any] = {"api": "chat"}
    defaults = content.model
    if defaults.model:
        try:
            profile, model_name = split_model_ref(defaults.model)
            family = (profiles or {}).get(profile, (profile, ""))[0]
            model["configuration"] = {"type": family, "name": model_name}
            if family not in FAMILIES:
                report.notes.append(f"model {defaults.model}: Prompty knows no type {family!r}")
        except ValueError:
            model["configuration"] = {"name": defaults.model}
    params: dict[str, Any] = {
        k: getattr(defaults, k)
        for k in ("temperature", "max_tokens", "top_p")
        if getattr(defaults, k) is not None
    }
    if defaults.stop:
        params["stop"] = list(defaults.stop)
    if defaults.response_format:
        params["response_format"] = {"type": defaults.response_format}
    if params:
        model["parameters"] = params
    meta["model"] = model
    if defaults.fallbacks:
        report.skipped.append("fallbacks: Prompty has no fallback models: left out")
    inputs: dict[str, Any] = {}
    for v in content.variables:
        spec: dict[str, Any] = {"type": _EXPORT_TYPES[v.type]}
        if v.description:
            spec["description"] = v.description
        if v.default is not None:
            spec["default"] = sorted_data(v.default)
        if not v.required:
            spec["required"] = False
        if v.sensitivity != "public":
            spec["sensitivity"] = v.sensitivity
        if v.binding is not None:
            report.skipped.append(f"variable {v.name}: its data source binding: left out")
        inputs[v.name] = spec
    if inputs:
        meta["inputs"] = inputs
    chosen = next((c for c in cases if c.name == "sample"), cases[0] if cases else None)
    if chosen is not None:
        hidden = sensitive_names(content)
        sample = {k: v for k, v in chosen.values.items() if k not in hidden}
        if len(sample) < len(chosen.values):
            report.skipped.append("sample: values of sensitive variables left out")
        if sample:
            meta["sample"] = sorted_data(sample)
        if chosen.assertions:
            report.skipped.append(f"{chosen.name}: assertions: Prompty has none: left out")
        others = len(cases) - 1
        if others:
            report.skipped.append(f"{others} more test case{'s' if others > 1 else ''}: left out")
    meta["template"] = "jinja2"
    parts = []
    for i, m in enumerate(content.messages, start=1):
        if m.template != m.template.strip("\n"):
            report.notes.append(f"message {i}: blank lines around it are not kept by Prompty")
        if any(ROLE_MARKER.match(line) for line in m.template.splitlines()):
            report.notes.append(f"message {i}: a line of it reads as a role marker in Prompty")
        parts.append(f"{m.role}:\n{m.template.strip(chr(10))}\n")
    return "---\n" + dump_yaml(meta) + "---\n" + "\n".join(parts), report
