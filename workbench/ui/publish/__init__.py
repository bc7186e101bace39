"""Publishing from the desktop app: ``PublishDialog`` moves a registry label onto a
version (or rolls it back). Its parts: the dialog and the registry calls
(``dialog``), what is known about the move - approvals, suite, canary, evidence
(``facts``), the canary row (``canary``) and the label's audit log
(``label_history``)."""

from workbench.ui.publish.dialog import PublishDialog

__all__ = ["PublishDialog"]
