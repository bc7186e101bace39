"""What every part of :class:`~workbench.registry.server.service.RegistryService`
shares: the database, the settings, and the checks and lookups several parts make
(a role, a label or prompt name, a prompt by name, a label's state as sent)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from workbench.core.errors import (
    InputError,
    NotFoundError,
)
from workbench.core.models import (
    validate_prompt_name,
)
from workbench.registry.schemas import MAX_PAGE, LabelState, check_label_name
from workbench.registry.server import repository as repo
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database
from workbench.registry.server.tables import LabelRow, PromptRow
from workbench.registry.server.telemetry import Telemetry


def validated_label(name: str) -> str:
    try:
        return check_label_name(name)
    except ValueError as exc:
        raise InputError(str(exc), hint="Label names look like 'production' or 'staging'.") from exc


def validated_prompt(name: str) -> str:
    try:
        return validate_prompt_name(name)
    except ValueError as exc:
        raise InputError(str(exc), hint="Check the prompt name.") from exc


def page_size(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


class ServiceBase:
    """The state the service's parts share; :class:`RegistryService` sets it."""

    db: Database
    settings: RegistrySettings
    telemetry: Telemetry

    def _prompt(self, session: Session, name: str) -> PromptRow:
        validated_prompt(name)
        row = repo.prompt_by_name(session, name)
        if row is None:
            raise NotFoundError(f"no prompt named {name!r}", hint="Push a version of it first.")
        return row

    def _label_state(self, row: LabelRow, prompt: str) -> LabelState:
        return repo.to_label_state(
            row, prompt, protected=row.name in self.settings.protected_labels
        )
