"""Prompt ``p``: one user message about ``{{ topic }}``, the shape the evidence tests run."""

from __future__ import annotations

from workbench.core.models import Message, PromptContent, PromptVersion, Variable
from workbench.core.runs import ModelRef
from workbench.vault import Vault

ECHO = ModelRef(profile="echo", model="echo")
"""The engine's built-in model: answers with the user message."""


def commit_topic_prompt(vault: Vault, template: str) -> PromptVersion:
    """Commit ``p`` (message "first") with ``template`` reading the variable ``topic``."""
    return vault.commit(
        "p",
        PromptContent(
            messages=(Message(role="user", template=template),),
            variables=(Variable(name="topic"),),
        ),
        "first",
    )
