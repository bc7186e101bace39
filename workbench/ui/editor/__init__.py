"""The prompt editor (``EditorPanel``), in parts: the head and draft banner
(``header``), the message cards (``messages``, ``message_editor``), the model
defaults form (``model_defaults``), the variables table (``variables``), the live
preview with its cost per model (``preview``), the commit bar and commit
(``commit``), and content rules without widgets (``content``). ``panel`` ties them
together: every edit re-checks, re-renders and, after a pause, saves a draft."""

from workbench.ui.editor.panel import EditorPanel

__all__ = ["EditorPanel"]
