"""Registry settings: given to ``create_app`` and the admin commands, never global."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegistrySettings:
    db_url: str
    protected_labels: frozenset[str] = field(default_factory=lambda: frozenset({"production"}))
    """Labels that move only by a publisher and only onto independently approved versions."""
    require_eval_evidence: bool = False
    """When set, a protected label also needs an approval that carries passing eval evidence."""
    max_body_bytes: int = 1_000_000
    default_page: int = 200
