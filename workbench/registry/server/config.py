"""Registry settings: given to ``create_app`` and the admin commands, never global.

The protected set is always ``production`` plus whatever is added: naming other
labels (``--protected staging``) adds to it and never replaces it. Taking
``production`` out needs ``unprotect_production=True`` (the CLI's
``--dangerously-unprotect-production``), which the server logs loudly at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from workbench.core.models import validate_label_name

ALWAYS_PROTECTED = "production"
"""The label the Langfuse SDK serves by default: protected unless explicitly unprotected."""


def protected_set(
    extra: Iterable[str] = (), *, unprotect_production: bool = False
) -> frozenset[str]:
    """``production`` (unless explicitly unprotected) plus ``extra``; names are checked."""
    labels = {validate_label_name(name) for name in extra}
    if unprotect_production:
        labels.discard(ALWAYS_PROTECTED)
    else:
        labels.add(ALWAYS_PROTECTED)
    return frozenset(labels)


@dataclass(frozen=True)
class RegistrySettings:
    db_url: str
    protected_labels: frozenset[str] = field(default_factory=lambda: frozenset({ALWAYS_PROTECTED}))
    """Labels that move only by a publisher and only onto independently approved versions.
    Always holds ``production`` unless ``unprotect_production`` is set."""
    require_eval_evidence: bool = False
    """When set, a protected label also needs an approval that carries passing eval evidence."""
    max_body_bytes: int = 1_000_000
    default_page: int = 200
    unprotect_production: bool = False
    """Take ``production`` out of the protected set (dangerous; logged at start)."""
    span_retention_days: int = 30
    """How long raw production spans (and resolutions) are kept; 0 keeps them forever.
    The hourly rollups, from which stats and canary guards are computed, stay."""

    def __post_init__(self) -> None:
        effective = protected_set(
            self.protected_labels, unprotect_production=self.unprotect_production
        )
        object.__setattr__(self, "protected_labels", effective)

    def describe_protection(self) -> str:
        """The effective protected set as one line, for the start-up banner and log."""
        names = ", ".join(sorted(self.protected_labels)) or "none"
        text = f"protected labels: {names}"
        if self.require_eval_evidence:
            text += (
                "; publishing to them needs an approval with eval evidence on the prompt's "
                "current suite (--require-evidence; folder policies: registry policy list)"
            )
        if self.unprotect_production:
            text += (
                f"  (WARNING: '{ALWAYS_PROTECTED}' is NOT protected: any author can move it "
                "onto an unreviewed version)"
            )
        return text
