"""Named data sources in the vault: versions of their definitions and allow-lists, and
the audit of every read (``workbench.core.sources`` says what they are).

Every change is one transaction with its audit event. A source is never deleted:
``remove`` marks it so nothing may use it, while its versions stay for the runs and
versions that name them. The audit event of a read names the source, its version,
the prompt version and the row count; values read are never passed to this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.errors import DuplicateError, NotFoundError, UsageError
from workbench.core.models import canonical_json, utcnow
from workbench.core.sources import (
    Resolution,
    SourceAccess,
    SourceDefinition,
    SourceVersion,
    check_source_name,
)
from workbench.vault.repository import Vault
from workbench.vault.schema import SourceRow, SourceVersionRow


def _hint_list() -> str:
    return "See the sources with: workbench source list"


class SourceStore:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # ---- reading ---------------------------------------------------------------------

    @staticmethod
    def _row(s: Session, name: str) -> SourceRow:
        row = s.scalar(select(SourceRow).where(SourceRow.name == name))
        if row is None:
            raise NotFoundError(f"no data source named {name!r}", hint=_hint_list())
        return row

    @staticmethod
    def _version(row: SourceRow, v: SourceVersionRow, latest: int) -> SourceVersion:
        return SourceVersion(
            name=row.name,
            number=v.number,
            definition=SourceDefinition.model_validate_json(v.definition),
            access=SourceAccess.model_validate_json(v.access),
            definition_hash=v.definition_hash,
            author=v.author,
            created_at=v.created_at,
            note=v.note,
            removed=row.removed_at is not None and v.number == latest,
        )

    def get(self, name: str, number: int | None = None) -> SourceVersion:
        """The source's newest version, or version ``number``."""
        with self.vault.reading() as s:
            row = self._row(s, name)
            latest = self._latest(s, row.id)
            want = latest if number is None else number
            v = s.get(SourceVersionRow, (row.id, want))
            if v is None:
                raise NotFoundError(
                    f"data source {name!r} has no version {want} (it has 1 to {latest})",
                    hint=f"See its versions with: workbench source show {name} --versions",
                )
            return self._version(row, v, latest)

    def by_hash(self, name: str, definition_hash: str) -> SourceVersion | None:
        """The newest version of ``name`` whose definition has that hash (a pin)."""
        with self.vault.reading() as s:
            row = s.scalar(select(SourceRow).where(SourceRow.name == name))
            if row is None:
                return None
            v = s.scalar(
                select(SourceVersionRow)
                .where(
                    SourceVersionRow.source_id == row.id,
                    SourceVersionRow.definition_hash == definition_hash,
                )
                .order_by(SourceVersionRow.number.desc())
                .limit(1)
            )
            return None if v is None else self._version(row, v, self._latest(s, row.id))

    def versions(self, name: str) -> list[SourceVersion]:
        with self.vault.reading() as s:
            row = self._row(s, name)
            rows = list(
                s.scalars(
                    select(SourceVersionRow)
                    .where(SourceVersionRow.source_id == row.id)
                    .order_by(SourceVersionRow.number)
                )
            )
            latest = rows[-1].number if rows else 0
            return [self._version(row, v, latest) for v in rows]

    def list_sources(self, include_removed: bool = False) -> list[SourceVersion]:
        """Each source's newest version, by name."""
        with self.vault.reading() as s:
            newest = (
                select(SourceVersionRow.source_id, func.max(SourceVersionRow.number).label("n"))
                .group_by(SourceVersionRow.source_id)
                .subquery()
            )
            q = (
                select(SourceRow, SourceVersionRow)
                .join(newest, newest.c.source_id == SourceRow.id)
                .join(
                    SourceVersionRow,
                    (SourceVersionRow.source_id == SourceRow.id)
                    & (SourceVersionRow.number == newest.c.n),
                )
                .order_by(SourceRow.name)
            )
            if not include_removed:
                q = q.where(SourceRow.removed_at.is_(None))
            return [self._version(r, v, v.number) for r, v in s.execute(q)]

    @staticmethod
    def _latest(s: Session, source_id: int) -> int:
        return int(
            s.scalar(
                select(func.max(SourceVersionRow.number)).where(
                    SourceVersionRow.source_id == source_id
                )
            )
            or 0
        )

    # ---- changing --------------------------------------------------------------------

    def add(
        self, name: str, definition: SourceDefinition, access: SourceAccess, note: str = ""
    ) -> SourceVersion:
        """A new source (version 1); a removed one of that name comes back as its next
        version."""
        try:
            check_source_name(name)
        except ValueError as exc:
            raise UsageError(str(exc), hint="e.g. workbench source add customers ...") from exc
        with self.vault.writing() as s:
            row = s.scalar(select(SourceRow).where(SourceRow.name == name))
            if row is not None and row.removed_at is None:
                raise DuplicateError(
                    f"a data source named {name!r} already exists",
                    hint=f"Change it with: workbench source edit {name} ... (a new version)",
                )
            if row is None:
                row = SourceRow(name=name, created_at=utcnow())
                s.add(row)
                s.flush()
            row.removed_at = None
            return self._insert(s, row, definition, access, note, "source.add")

    def edit(
        self,
        name: str,
        definition: SourceDefinition | None = None,
        access: SourceAccess | None = None,
        note: str = "",
    ) -> SourceVersion:
        """A new version with the given parts changed (the rest as in the newest one)."""
        with self.vault.writing() as s:
            row = self._row(s, name)
            if row.removed_at is not None:
                raise UsageError(
                    f"data source {name!r} was removed",
                    hint=f"Add it again with: workbench source add {name} ...",
                )
            latest = self._latest(s, row.id)
            current = s.get(SourceVersionRow, (row.id, latest))
            assert current is not None
            old = self._version(row, current, latest)
            new_def = definition or old.definition
            new_access = access or old.access
            if new_def == old.definition and new_access == old.access:
                raise UsageError(
                    f"nothing to change: data source {name!r} v{latest} is already like that",
                    hint="Give what changes, e.g. --allow-prompt support/ or --query ...",
                )
            return self._insert(s, row, new_def, new_access, note, "source.edit")

    def remove(self, name: str) -> None:
        with self.vault.writing() as s:
            row = self._row(s, name)
            if row.removed_at is not None:
                raise UsageError(f"data source {name!r} is already removed", hint=_hint_list())
            row.removed_at = utcnow()
            self.vault.audit_in(s, "source.remove", name, {"version": self._latest(s, row.id)})

    def _insert(
        self,
        s: Session,
        row: SourceRow,
        definition: SourceDefinition,
        access: SourceAccess,
        note: str,
        action: str,
    ) -> SourceVersion:
        number = self._latest(s, row.id) + 1
        digest = definition.definition_hash()
        v = SourceVersionRow(
            source_id=row.id,
            number=number,
            kind=definition.kind,
            definition=canonical_json(definition.model_dump(mode="json")).decode("utf-8"),
            definition_hash=digest,
            access=canonical_json(access.model_dump(mode="json")).decode("utf-8"),
            author=self.vault.actor,
            created_at=utcnow(),
            note=note.strip(),
        )
        s.add(v)
        s.flush()
        self.vault.audit_in(
            s,
            action,
            row.name,
            {
                "version": number,
                "kind": definition.kind,
                "definition": digest,
                "prompts": list(access.prompts),
                "roles": list(access.roles),
            },
        )
        return self._version(row, v, number)

    # ---- audit of reads --------------------------------------------------------------

    def record_resolutions(self, resolutions: Sequence[Resolution]) -> None:
        """One audit event per resolution, all in one transaction: who (the vault's
        actor), when, which source version, which prompt version, how many reads and
        rows. No value: a :class:`Resolution` has no field for one."""
        if not resolutions:
            return
        with self.vault.writing() as s:
            for r in resolutions:
                detail = r.model_dump(mode="json", exclude={"source"})
                self.vault.audit_in(s, "source.resolve", r.source, detail)
