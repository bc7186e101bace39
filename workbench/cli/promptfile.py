"""Reading the prompt file given to ``workbench commit --file`` (YAML or JSON).

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
    if out.get("model") is None:
        out.pop("model", None)
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
    try:
        return PromptContent.model_validate(_normalise(data, source))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{source}: {loc}: {first['msg']}", hint=HINT) from exc


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
        data["variables"] = {
            v.name: {k: val for k, val in v.model_dump(mode="json").items() if k != "name"}
            for v in content.variables
        }
    if content.tags:
        data["tags"] = list(content.tags)
    return data
