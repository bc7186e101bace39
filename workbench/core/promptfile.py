"""Reading the prompt file given to ``workbench commit --file`` (YAML or JSON); the
folder layout of ``workbench vault export --dir`` writes one per prompt.

Format (README "Prompt files")::

    messages:
      - role: system
        content: You are a support agent for {{ product }}.
      - role: user
        content: "{{ question }}"
    model: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 400}
    variables:
      product: {type: string, default: Acme}
      question: {description: The customer's question}
    tags: [support]

A variable whose value comes from a data source names it and its field (the rest is
optional: ``row``, 1 = the first matching row, or ``all``; ``where``, column ->
variable)::

    variables:
      email: {sensitivity: sensitive, source: customers, field: email,
              where: {id: customer_id}}
      customer_id: {type: integer}

The commit pins the source's current definition (``workbench.core.models.Binding``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.core.errors import InputError
from workbench.core.files import load_yaml, read_text
from workbench.core.models import PromptContent

HINT = "See 'Prompt files' in the README for the format."


def _normalise(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with a 'messages' list", hint=HINT)
    out = dict(data)
    messages = out.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InputError(f"{source}: 'messages' must be a non-empty list", hint=HINT)
    norm_msgs = []
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, dict):
            raise InputError(f"{source}: message {i} must be a mapping (role, content)", hint=HINT)
        m = dict(m)
        if "content" in m and "template" not in m:
            m["template"] = m.pop("content")
        norm_msgs.append(m)
    out["messages"] = norm_msgs
    variables = out.get("variables")
    if isinstance(variables, dict):
        out["variables"] = [
            {"name": name, **(spec if isinstance(spec, dict) else {"default": spec})}
            for name, spec in variables.items()
        ]
    if isinstance(out.get("variables"), list):
        out["variables"] = [_binding(v) for v in out["variables"]]
    if out.get("model") is None:
        out.pop("model", None)
    return out


BINDING_KEYS = ("source", "field", "row", "where", "pin")
"""A variable's keys in the file that make up its binding (written flat, beside type)."""


def _binding(variable: Any) -> Any:
    if not isinstance(variable, dict) or not any(k in variable for k in BINDING_KEYS):
        return variable
    out = {k: v for k, v in variable.items() if k not in BINDING_KEYS}
    out["binding"] = {k: variable[k] for k in BINDING_KEYS if k in variable}
    return out


def parse_prompt_text(text: str, source: str, fmt: str) -> PromptContent:
    try:
        data = json.loads(text) if fmt == "json" else load_yaml(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", hint=HINT
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{source}: invalid YAML{where}: {problem}", hint=HINT) from exc
    normal = _normalise(data, source)
    try:
        return PromptContent.model_validate(normal)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_in_file(text, fmt, first["loc"], normal)
        at = f", line {line}" if line else ""
        raise InputError(
            f"{source}{at}: {_where_in_file(first['loc'], normal)}: {_plain(first)}", hint=HINT
        ) from exc


def _line_in_file(text: str, fmt: str, loc: tuple[Any, ...], data: Any) -> int | None:
    """The line (from 1) of the YAML node a validation error's ``loc`` points at, in the
    file's own shape (variables by name, ``content`` for a message's text, a binding's
    keys flat beside the variable's); the nearest enclosing node when the key itself is
    missing. None for JSON or when the text does not compose."""
    if fmt == "json":
        return None
    import yaml

    try:
        node: Any = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    items = list(loc)
    if items[:1] == ["variables"] and len(items) > 1 and isinstance(items[1], int):
        variables = data.get("variables") if isinstance(data, dict) else None
        if isinstance(variables, list) and items[1] < len(variables):
            entry = variables[items[1]]
            if isinstance(entry, dict) and "name" in entry:
                items[1] = entry["name"]
        if len(items) > 2 and items[2] == "binding":
            del items[2]
    found = node
    for key in items:
        child = None
        if isinstance(found, yaml.MappingNode):
            word = _FILE_WORDS.get(str(key), str(key))
            child = next((v for k, v in found.value if getattr(k, "value", None) == word), None)
        elif isinstance(found, yaml.SequenceNode) and isinstance(key, int):
            child = found.value[key] if key < len(found.value) else None
        if child is None:
            break
        found = child
    return int(found.start_mark.line) + 1 if found is not None else None


_FILE_WORDS = {"template": "content"}
"""Field names as the file spells them (a message's text is ``content`` there)."""


def _where_in_file(loc: tuple[Any, ...], data: Any) -> str:
    """A validation error's place in the words of the file: "message 2 role", "variable
    'tier' type", not "messages.1.role" (a path the person never wrote)."""
    parts: list[str] = []
    items = list(loc)
    while items:
        key = items.pop(0)
        if key == "messages" and items and isinstance(items[0], int):
            parts.append(f"message {items.pop(0) + 1}")
        elif key == "variables" and items and isinstance(items[0], int):
            index = items.pop(0)
            variables = data.get("variables") if isinstance(data, dict) else None
            name = None
            if isinstance(variables, list) and index < len(variables):
                entry = variables[index]
                name = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"variable {name!r}" if name else f"variable {index + 1}")
        elif isinstance(key, int):
            parts.append(f"item {key + 1}")
        else:
            parts.append(_FILE_WORDS.get(str(key), str(key)))
    return " ".join(parts) or "the file"


def _plain(error: Any) -> str:
    """pydantic's message, said plainly where it is a choice among fixed words."""
    expected = (error.get("ctx") or {}).get("expected")
    if error.get("type") == "literal_error" and expected:
        return f"is {error.get('input')!r}; it must be one of {expected}"
    return str(error.get("msg", "invalid"))


def read_prompt_file(path: Path) -> PromptContent:
    from workbench.core.limits import MAX_PROMPT_CHARS, MAX_PROMPT_FILE_BYTES

    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_PROMPT_FILE_BYTES:
        raise InputError(
            f"{path} is {size:,} bytes: too big to be a prompt (a prompt holds at most "
            f"{MAX_PROMPT_CHARS:,} characters)",
            hint="Keep large reference text out of the prompt: pass it in as a variable's "
            "value from a test case or your application.",
        )
    text = read_text(path, "--file")
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    return parse_prompt_text(text, str(path), fmt)


def content_to_file_data(content: PromptContent) -> dict[str, Any]:
    """The inverse of parsing: a mapping in the documented prompt-file shape."""
    data: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.template} for m in content.messages]
    }
    model = content.model.canonical()
    if model:
        data["model"] = model
    if content.variables:
        data["variables"] = {}
        for v in content.variables:
            spec = {k: val for k, val in v.model_dump(mode="json").items() if k != "name"}
            binding = spec.pop("binding", None)
            if binding is not None:  # flat, as written; the pin is made again at commit
                spec.update({k: val for k, val in binding.items() if k != "pin"})
                if not binding.get("where"):
                    spec.pop("where", None)
            data["variables"][v.name] = spec
    if content.tags:
        data["tags"] = list(content.tags)
    return data
