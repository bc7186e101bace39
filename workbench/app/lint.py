"""Prompt lint: every check a version's content gets, by rule, with a severity a team
can set per folder (``workbench lint``; commit runs the error-level checks already).

Rules (default severity):

==========================  =======  ==================================================
``syntax``                  error    a template that does not compile
``key``                     error    a key- or token-shaped string in a message/default
``size``                    error    the prompt over the size bound
``render-limits``           error    a message that exceeds the rendering limits
``fallback``                error    a fallback not written as PROFILE:MODEL
``default-type``            error    a default that is not of its variable's type
``undeclared-variable``     warning  used in a message, not declared
``unused-variable``         warning  declared, used by no message
``empty-message``           warning  a message with no text
``personal-data``           warning  an e-mail address or phone number in the text
``langfuse``                warning  Jinja the Langfuse SDK would not compile alike
``token-budget``            warning  a message over the folder's token budget
==========================  =======  ==================================================

Per-folder configuration lives in the settings (``lint``): a folder prefix ("" for
all) maps rule names to ``off``, ``warning`` or ``error``, and may set
``token-budget`` to a number of tokens; the longest matching prefix wins, rule by rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from workbench.core.langfuse import langfuse_problem
from workbench.core.lint_rules import DEFAULTS as DEFAULTS
from workbench.core.lint_rules import RULES as RULES
from workbench.core.lint_rules import check_config as check_config
from workbench.core.models import PromptContent
from workbench.core.templating import check_content, estimate_tokens

Severity = Literal["error", "warning"]

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{7,}\d(?!\w)")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    hint: str = ""
    where: str = ""
    line: int | None = None

    def text(self) -> str:
        loc = " ".join(p for p in (self.where, f"line {self.line}" if self.line else "") if p)
        return f"{self.severity} [{self.rule}] {loc + ': ' if loc else ''}{self.message}"


@dataclass(frozen=True)
class FolderRules:
    """The rules in force for one prompt: severities (None: off) and a token budget."""

    severities: dict[str, Severity | None]
    token_budget: int | None = None


def rules_for(prompt: str, config: Mapping[str, Mapping[str, str | int]]) -> FolderRules:
    """The defaults, overridden by each configured folder prefix of ``prompt``,
    shortest prefix first (so the longest wins)."""
    severities: dict[str, Severity | None] = dict(DEFAULTS)
    budget: int | None = None
    for prefix in sorted((p for p in config if prompt.startswith(p)), key=len):
        for rule, value in config[prefix].items():
            if rule == "token-budget" and isinstance(value, int) and not isinstance(value, bool):
                budget = value
            elif rule in DEFAULTS and value in ("off", "warning", "error"):
                severities[rule] = None if value == "off" else value  # type: ignore[assignment]
    return FolderRules(severities, budget)


def lint_content(
    prompt: str,
    content: PromptContent,
    rules: FolderRules,
    read_by_sources: Collection[str] = (),
) -> list[Finding]:
    """Every finding for ``content``, errors first, by the rules in force.
    ``read_by_sources``: variables its data sources read (a SQL ``:name``, a URL
    ``{name}``), used though no message names them."""
    found: list[Finding] = []

    def add(
        rule: str, message: str, hint: str = "", where: str = "", line: int | None = None
    ) -> None:
        severity = rules.severities.get(rule, DEFAULTS.get(rule))
        if severity is not None:
            found.append(Finding(rule, severity, message, hint, where, line))

    for problem in check_content(content):
        if problem.rule == "unused-variable" and any(
            problem.detail.startswith(f"variable {name!r} ") for name in read_by_sources
        ):
            continue
        add(problem.rule, problem.detail, problem.hint, problem.where, problem.line)
    for index, message in enumerate(content.messages):
        where = f"message {index + 1} ({message.role})"
        if not message.template.strip():
            add("empty-message", "the message has no text", "Write it, or remove it.", where)
        for pattern, what in ((_EMAIL, "an e-mail address"), (_PHONE, "a phone number")):
            for m in pattern.finditer(message.template):
                line = message.template.count("\n", 0, m.start()) + 1
                hint = "Use a variable (a value given per case), not real personal data."
                add("personal-data", f"{what} is in the text", hint, where, line)
        if rules.token_budget is not None:
            tokens = estimate_tokens(message.template)
            if tokens > rules.token_budget:
                over = f"~{tokens:,} tokens, over the folder's budget of {rules.token_budget:,}"
                add("token-budget", over, "Shorten it, or raise the folder's budget.", where)
    incompatible = langfuse_problem(content)
    if incompatible is not None:
        hint = "Use only plain {{ name }} placeholders if Langfuse apps read this prompt."
        add("langfuse", f"the Langfuse SDK would not compile it alike ({incompatible})", hint)
    return sorted(found, key=lambda f: f.severity != "error")
