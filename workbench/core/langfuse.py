"""Which templates the Langfuse SDK compiles the same way the workbench renders them.

Langfuse's ``prompt.compile(**values)`` does no Jinja: it replaces each ``{{ name }}``
with ``str(value)`` (``None`` as ``""``) and leaves everything else as text. The
workbench renders the same template with Jinja. The two agree exactly when the
template is text plus plain ``{{ name }}`` placeholders: no filters, attributes,
expressions, ``{% ... %}`` blocks, ``{# ... #}`` comments or whitespace control
(``{{-``). Anything else would reach a Langfuse app as raw Jinja, so the registry
refuses to serve it through the Langfuse API and publishing it is warned about.

Pure: a jinja2 lexer, nothing else.
"""

from __future__ import annotations

from jinja2 import Environment, TemplateSyntaxError

from workbench.core.models import PromptContent

_LEXER_ENV = Environment(keep_trailing_newline=True, autoescape=False)
_LITERAL_NAMES = frozenset({"true", "false", "none", "True", "False", "None"})

_TOKEN_WORDS = {
    "block_begin": "a '{% ... %}' block",
    "comment_begin": "a '{# ... #}' comment",
    "raw_begin": "a '{% raw %}' block",
    "linestatement_begin": "a line statement",
    "linecomment_begin": "a line comment",
}
_OPERATOR_WORDS = {
    "|": "a filter ('|')",
    ".": "an attribute ('.')",
    "[": "an index ('[...]')",
    "(": "a call ('(...)')",
}


def template_problem(source: str) -> str | None:
    """Why the Langfuse SDK would not compile ``source`` like the workbench, or None."""
    try:
        _LEXER_ENV.parse(source)
        tokens = list(_LEXER_ENV.lex(source))
    except TemplateSyntaxError as exc:
        return f"it is not a valid template ({exc.message})"
    inside = False
    names: list[str] = []
    for lineno, kind, value in tokens:
        if kind == "data" or (inside and kind == "whitespace"):
            continue
        if kind == "variable_begin":
            if value != "{{":
                return f"line {lineno} uses whitespace control ({value!r})"
            inside, names = True, []
            continue
        if kind == "variable_end":
            if value != "}}":
                return f"line {lineno} uses whitespace control ({value!r})"
            if len(names) != 1:
                return f"line {lineno} has an expression, not a plain '{{{{ name }}}}'"
            inside = False
            continue
        if inside and kind == "name":
            if value in _LITERAL_NAMES or names:
                return f"line {lineno} has an expression, not a plain '{{{{ name }}}}'"
            names.append(value)
            continue
        what = _TOKEN_WORDS.get(kind) or _OPERATOR_WORDS.get(value, "an expression")
        return f"line {lineno} uses {what}, which Langfuse does not understand"
    return None


def langfuse_problem(content: PromptContent) -> str | None:
    """Why the Langfuse SDK would not compile this version like the workbench (naming
    the message), or None when it compiles identically."""
    for index, message in enumerate(content.messages, start=1):
        problem = template_problem(message.template)
        if problem is not None:
            return (
                f"message {index} ({message.role}): {problem}; the Langfuse SDK only "
                "substitutes plain '{{ name }}' placeholders"
            )
    return None
