"""What the editor makes of prompt content, without widgets: a new prompt's starter,
the rule by which declared variables follow the templates, and the one-line text of a
settings error."""

from __future__ import annotations

from pydantic import ValidationError

from workbench.core.errors import RenderError, TemplateError
from workbench.core.models import Message, PromptContent, Variable
from workbench.core.templating import content_variables

STARTER = PromptContent(
    messages=(
        Message(role="system", template="You are a helpful assistant."),
        Message(role="user", template="{{ question }}"),
    ),
    variables=(
        Variable(
            name="question",
            description="What the user asks",
            default="What can you help me with?",
        ),
    ),
)
"""A new prompt's first content: every variable it uses is declared with a default,
so its preview renders before any test case exists."""


def is_stale(variable: Variable, used: set[str]) -> bool:
    """Whether a declared variable goes: no template uses it and it carries nothing
    the author typed (no default, no description)."""
    return variable.name not in used and not variable.description and variable.default is None


def auto_declared(content: PromptContent) -> PromptContent:
    """``content`` as the editor shows it after opening: variables the templates use
    but do not declare are added (plain required strings), and stale declared ones
    (see ``is_stale``) are dropped.

    The editor compares against this as well as the stored content, so opening a
    version never counts as an edit (the variables table follows the same rule)."""
    try:
        used = content_variables(content)
    except (TemplateError, RenderError):
        return content
    kept = [v for v in content.variables if not is_stale(v, used)]
    declared = {v.name for v in kept}
    added = [Variable(name=n) for n in sorted(used - declared)]
    return content.model_copy(
        update={"variables": tuple(sorted(kept + added, key=lambda v: v.name))}
    )


def validation_text(exc: Exception) -> str:
    """One line for an invalid setting: the field's path and pydantic's message."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    return str(exc)
