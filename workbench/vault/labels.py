"""Labels in a vault: the pointers (``production``, ``staging``) a prompt's versions
carry, their history, and moving one (compare-and-swap) for prompts the registry does
not hold.

Functions over a ``Session``; a move audits itself in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.errors import NotFoundError, StaleLabelError, UsageError
from workbench.core.models import Label, LabelEvent, utcnow, validate_label_name
from workbench.vault import audit
from workbench.vault.prompts import prompt_row
from workbench.vault.schema import LabelEventRow, LabelRow, VersionRow

UNSET: Any = object()
"""``expected`` not given: move the label wherever it points now."""


def labels_of(s: Session, name: str) -> list[Label]:
    prow = prompt_row(s, name)
    rows = s.scalars(select(LabelRow).where(LabelRow.prompt_id == prow.id).order_by(LabelRow.name))
    return [to_label(name, r) for r in rows]


def label_history(s: Session, name: str, label: str | None = None) -> list[LabelEvent]:
    """Every recorded move of the prompt's labels, oldest first: the registry's (as of
    the last sync, from its audit log) and this vault's local ones."""
    prow = prompt_row(s, name)
    q = (
        select(LabelEventRow)
        .where(LabelEventRow.prompt_id == prow.id)
        .order_by(LabelEventRow.at, LabelEventRow.seq)
    )
    if label is not None:
        q = q.where(LabelEventRow.label == label)
    return [
        LabelEvent(
            prompt=name,
            label=r.label,
            at=r.at,
            actor=r.actor,
            from_version_id=_uuid(r.from_version_id),
            to_version_id=_uuid(r.to_version_id),
            to_number=r.to_number,
            canary_version_id=_uuid(r.canary_version_id),
            canary_percent=r.canary_percent,
            reason=r.reason,
            source="registry" if r.source == "registry" else "local",
        )
        for r in s.scalars(q)
    ]


def check_label_name(label: str) -> None:
    try:
        validate_label_name(label)
    except ValueError as exc:
        raise UsageError(str(exc), hint="Example: production, staging, canary-1") from exc


def move_label(
    s: Session,
    actor: str,
    name: str,
    label: str,
    version_id: uuid.UUID | None,
    *,
    expected: uuid.UUID | None = UNSET,
    reason: str = "",
) -> Label | None:
    """Point ``label`` at ``version_id`` (None removes it), compare-and-swap style.

    ``expected`` is the target the caller believes the label has now (None: the
    label should not exist yet). If it moved meanwhile, StaleLabelError says where.

    Only for prompts the registry does not hold: a synced prompt's labels are the
    registry's (mirrored on every sync), and move only by publishing.
    """
    check_label_name(label)
    prow = prompt_row(s, name)
    row = s.scalar(select(LabelRow).where(LabelRow.prompt_id == prow.id, LabelRow.name == label))
    synced = s.scalar(
        select(VersionRow.seq)
        .where(VersionRow.prompt_id == prow.id, VersionRow.number.is_not(None))
        .limit(1)
    )
    if (row is not None and row.source == "registry") or synced is not None:
        raise UsageError(
            f"{name!r} is in the team registry, so its labels are the registry's: "
            f"{label!r} cannot be moved in this vault alone",
            hint=f"Publish instead: workbench publish {name} --label {label} "
            "--version vN --reason WHY (or Publish… in the app).",
        )
    current = uuid.UUID(row.version_id) if row else None
    if expected is not UNSET and expected != current:
        raise StaleLabelError(
            f"label {label!r} of {name!r} points at "
            f"{current or 'nothing'}, not {expected or 'nothing'} as expected",
            expected=str(expected) if expected else None,
            actual=str(current) if current else None,
        )
    now = utcnow()
    if version_id is None:
        if row is None:  # nothing to remove: nothing changes, nothing is logged
            raise NotFoundError(
                f"{name!r} has no label {label!r}: nothing was removed",
                hint=f"See its labels with: workbench vault show {name}",
            )
        s.delete(row)
        result = None
    else:
        target = s.scalar(select(VersionRow).where(VersionRow.id == str(version_id)))
        if target is None or target.prompt_id != prow.id:
            raise NotFoundError(
                f"{version_id} is not a version of {name!r}",
                hint=f"See the versions with: workbench vault history {name}",
            )
        if row is None:
            s.add(
                LabelRow(
                    prompt_id=prow.id,
                    name=label,
                    version_id=str(version_id),
                    updated_at=now,
                    source="local",
                    updated_by=actor,
                )
            )
        else:
            row.version_id = str(version_id)
            row.updated_at = now
            row.updated_by = actor
        result = Label(
            prompt=name, name=label, version_id=version_id, updated_at=now,
            updated_by=actor,
        )  # fmt: skip
    s.add(
        LabelEventRow(
            prompt_id=prow.id,
            label=label,
            at=now,
            actor=actor,
            from_version_id=str(current) if current else None,
            to_version_id=str(version_id) if version_id else None,
            reason=reason,
            source="local",
        )
    )
    audit.append(
        s,
        actor,
        "label.move",
        f"{name}@{label}",
        {
            "from": str(current) if current else None,
            "to": str(version_id) if version_id else None,
            "reason": reason,
        },
    )
    return result


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def to_label(prompt: str, r: LabelRow) -> Label:
    return Label(
        prompt=prompt,
        name=r.name,
        version_id=uuid.UUID(r.version_id),
        updated_at=r.updated_at,
        source="registry" if r.source == "registry" else "local",
        canary_version_id=_uuid(r.canary_version_id),
        canary_percent=r.canary_percent,
        protected=r.protected,
        updated_by=r.updated_by,
    )
