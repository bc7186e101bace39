"""Prompt Workbench: a versioned prompt vault, model comparison, review and publishing."""

__version__ = "0.1.0"
