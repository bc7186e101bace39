"""promptfoo configuration files out: one prompt version and its suite as a
configuration promptfoo runs.

An export writes one prompt and its suite as a configuration promptfoo reads: the
prompt inline (``raw``: the text of a single user message, else the chat messages as
JSON), the providers from the version's model and ``--models``, each case as a test.
Assertions without a promptfoo kind (tokens, TTFT) and sensitive values are left out
and reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.app.interchange.common import (
    Report,
    dump_yaml,
    sensitive_names,
    sorted_data,
)
from workbench.app.interchange.promptfoo_format import provider_id
from workbench.core.assertions import Assertion
from workbench.core.models import (
    PromptVersion,
)
from workbench.core.runs import TestCase


def _test_assertion(a: Assertion, profiles: Mapping[str, tuple[str, str]]) -> dict[str, Any] | None:
    if a.type in ("contains", "not_contains"):
        kind = ("not-" if a.type == "not_contains" else "") + (
            "icontains" if a.ignore_case else "contains"
        )
        return {"type": kind, "value": a.value}
    if a.ignore_case:
        return None  # equals, starts_with, regex: promptfoo has no case-blind form
    simple = {
        "equals": "equals",
        "starts_with": "starts-with",
        "regex": "regex",
        "not_regex": "not-regex",
        "finish_reason": "finish-reason",
    }
    if a.type in simple:
        return {"type": simple[a.type], "value": a.value}
    if a.type == "json":
        if not a.value:
            return {"type": "is-json"}
        return {"type": "is-json", "value": {"type": "object", "required": list(a.value)}}
    if a.type == "json_schema":
        return {"type": "is-json", "value": sorted_data(a.value)}
    if a.type == "similar":
        return {"type": "similar", "value": a.value, "threshold": a.similar_threshold}
    if a.type == "rubric":
        out: dict[str, Any] = {
            "type": "llm-rubric",
            "value": a.value,
            "provider": provider_id(a.model or "", profiles)[0],
            "threshold": round(a.rubric_threshold / a.rubric_scale, 6),
        }
        if a.prompt:
            out["rubricPrompt"] = a.prompt
        return out
    if a.type == "max_cost_usd":
        return {"type": "cost", "threshold": a.value}
    if a.type == "max_latency_ms":
        return {"type": "latency", "threshold": a.value}
    if a.type == "max_chars":
        return {"type": "javascript", "value": f"output.length <= {int(a.value)}"}
    return None


def write_promptfoo(
    version: PromptVersion,
    cases: Sequence[TestCase],
    *,
    models: Sequence[str] = (),
    profiles: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[str, Report]:
    """The configuration text for ``version`` and its suite, and what was left out."""
    report = Report()
    profiles = profiles or {}
    content = version.content
    messages = content.messages
    if len(messages) == 1 and messages[0].role == "user":
        raw = messages[0].template
    else:
        raw = json.dumps(
            [{"role": m.role, "content": m.template} for m in messages],
            ensure_ascii=False,
            indent=2,
        )
    refs = list(dict.fromkeys([*([content.model.model] if content.model.model else []), *models]))
    providers: list[Any] = []
    for ref in refs or ["echo:echo"]:
        try:
            pid, config = provider_id(ref, profiles)
        except ValueError:
            report.skipped.append(f"model {ref!r}: not PROFILE:MODEL: no provider written")
            continue
        if ref == content.model.model:
            defaults = content.model
            params = {
                "temperature": defaults.temperature,
                "max_tokens": defaults.max_tokens,
                "top_p": defaults.top_p,
            }
            config.update({k: v for k, v in params.items() if v is not None})
            if defaults.stop:
                config["stop"] = list(defaults.stop)
        providers.append({"id": pid, "config": config} if config else pid)
    if content.model.fallbacks:
        report.skipped.append("fallbacks: promptfoo has no fallback models: left out")
    hidden = sensitive_names(content)
    tests = []
    for case in cases:
        test: dict[str, Any] = {"description": case.name}
        values = {k: v for k, v in case.values.items() if k not in hidden}
        if len(values) < len(case.values):
            report.skipped.append(f"{case.name}: values of sensitive variables left out")
        if values:
            test["vars"] = sorted_data(values)
        asserts = []
        for a in case.assertions:
            made = _test_assertion(a, profiles)
            if made is None:
                report.skipped.append(f"{case.name}: {a.describe()}: no promptfoo kind: left out")
            else:
                asserts.append(made)
        if asserts:
            test["assert"] = asserts
        tests.append(test)
    config_data: dict[str, Any] = {
        "description": version.prompt,
        "prompts": [{"label": version.prompt, "raw": raw}],
        "providers": providers,
    }
    if tests:
        config_data["tests"] = tests
    header = "# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json\n"
    return header + dump_yaml(config_data), report
