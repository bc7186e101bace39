"""Bundles in and out of a vault, and the bulk insert of versions that imports and sync
pages share (:meth:`Transfer.add_versions`).

Every import is one ``BEGIN IMMEDIATE`` transaction: a crash leaves the vault as it was
before or after it. Rows go in with bulk inserts, so 200,000 versions take seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workbench.core.errors import (
    ConflictError,
    InputError,
)
from workbench.core.models import (
    PromptVersion,
    canonical_json,
    utcnow,
)
from workbench.core.templating import validate_content
from workbench.vault.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    Bundle,
    BundlePrompt,
    BundleVersion,
)
from workbench.vault.cases import write_cases
from workbench.vault.prompts import check_name, insert_prompt
from workbench.vault.repository import Vault, registry_url_in
from workbench.vault.schema import (
    LabelRow,
    PromptRow,
    SyncStateRow,
    TestCaseRow,
    VersionParentRow,
    VersionRow,
)
from workbench.vault.search import INSERT_DOC, read_doc
from workbench.vault.versions import chunks


@dataclass
class AddedVersions:
    added: int = 0
    skipped: int = 0
    prompts_created: int = 0
    prompt_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportReport:
    prompts_created: int = 0
    versions_added: int = 0
    versions_skipped: int = 0
    labels_set: int = 0
    labels_kept: list[str] = field(default_factory=list)
    numbers_as_provenance: int = 0
    """Versions numbered by another registry: imported as drafts, the number kept as
    provenance."""


class Transfer:
    """Export and import for one vault (``Vault.export_bundle``/``import_bundle`` call it)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def export_bundle(self, names: Sequence[str] | None = None) -> Bundle:
        wanted = list(names) if names else self.vault.prompt_names()
        prompts = []
        for name in wanted:
            p = self.vault.get_prompt(name)
            versions = self.vault.history(name)
            prompts.append(
                BundlePrompt(
                    name=p.name,
                    archived=p.archived,
                    created_at=p.created_at,
                    versions=[BundleVersion.of(v) for v in versions],
                    labels={lab.name: lab.version_id for lab in self.vault.labels(name)},
                    test_cases=self.vault.test_cases(name),
                )
            )
        with self.vault.reading() as s:
            registry = registry_url_in(s)
        return Bundle(
            format=BUNDLE_FORMAT,
            version=BUNDLE_VERSION,
            exported_at=utcnow(),
            prompts=prompts,
            registry=registry,
        )

    def import_bundle(self, bundle: Bundle) -> ImportReport:
        """Add what the bundle has and the vault lacks, in one transaction.

        Versions already present (same id and hash) are skipped; the same id with other
        content is refused and nothing is imported. Existing labels are kept, never
        overwritten. Rows go in with bulk inserts: 200,000 versions take seconds.
        """
        report = ImportReport()
        for bp in bundle.prompts:
            check_name(bp.name)
        with self.vault.writing() as s:
            bundle = self._foreign_numbers_as_provenance(s, bundle, report)
            added = self.add_versions(
                s,
                [(bp.name, bp.created_at, bp.archived, bp.versions) for bp in bundle.prompts],
                source="the bundle",
                nothing="Nothing was imported.",
            )
            report.prompts_created = added.prompts_created
            report.versions_added = added.added
            report.versions_skipped = added.skipped
            for bp in bundle.prompts:
                pid = added.prompt_ids[bp.name]
                has_cases = s.scalar(
                    select(func.count())
                    .select_from(TestCaseRow)
                    .where(TestCaseRow.prompt_id == pid)
                )
                if bp.test_cases and not has_cases:  # local cases are kept, never overwritten
                    write_cases(s, pid, bp.test_cases)
                ids = {str(v.id) for v in bp.versions}
                for lname, target in bp.labels.items():
                    ours = s.scalar(
                        select(VersionRow.id).where(
                            VersionRow.id == str(target), VersionRow.prompt_id == pid
                        )
                    )
                    if str(target) not in ids and ours is None:
                        raise InputError(
                            f"the bundle's label {lname!r} of {bp.name!r} points at version "
                            f"{target}, which is not a version of {bp.name!r} there or here",
                            hint="Export the bundle again (with that version), or drop the "
                            "label from it. Nothing was imported.",
                        )
                    existing = s.scalar(
                        select(LabelRow).where(LabelRow.prompt_id == pid, LabelRow.name == lname)
                    )
                    if existing is not None:
                        if existing.version_id != str(target):
                            report.labels_kept.append(f"{bp.name}@{lname}")
                        continue
                    s.add(
                        LabelRow(
                            prompt_id=pid, name=lname, version_id=str(target), updated_at=utcnow()
                        )
                    )
                    report.labels_set += 1
            self.vault.audit_in(
                s,
                "vault.import",
                f"{len(bundle.prompts)} prompts",
                {
                    "versions_added": report.versions_added,
                    "prompts_created": report.prompts_created,
                },
            )
        return report

    def _foreign_numbers_as_provenance(
        self, s: Session, bundle: Bundle, report: ImportReport
    ) -> Bundle:
        """Numbers are per registry. Unless the bundle was numbered by the registry this
        vault syncs with, its numbers are kept only as provenance (``origin:<id>`` in the
        sync state) and the versions come in as drafts, to be pushed and numbered by this
        vault's registry (a push of a version a registry already has is idempotent and
        gives its number back). An unbound vault keeps the numbers with their provenance;
        binding it to a registry later demotes those from another one
        (:meth:`SyncStore.bind_registry`)."""
        own = registry_url_in(s)
        numbered = [(v.id, v.number) for bp in bundle.prompts for v in bp.versions if v.number]
        if not numbered or (own is not None and own == bundle.registry):
            return bundle
        source = bundle.registry or ""
        rows = [
            {"key": f"origin:{vid}", "value": json.dumps({"registry": source, "number": n})}
            for vid, n in numbered
        ]
        for chunk in chunks(rows, 500):
            s.execute(sqlite_insert(SyncStateRow).values(chunk).on_conflict_do_nothing())
        if own is None:
            return bundle
        report.numbers_as_provenance = len(numbered)
        return bundle.model_copy(
            update={
                "prompts": [
                    bp.model_copy(
                        update={
                            "versions": [v.model_copy(update={"number": None}) for v in bp.versions]
                        }
                    )
                    for bp in bundle.prompts
                ]
            }
        )

    def add_versions(
        self,
        s: Session,
        groups: Sequence[tuple[str, datetime, bool, Sequence[PromptVersion | BundleVersion]]],
        *,
        source: str,
        nothing: str,
    ) -> AddedVersions:
        """Bulk-add versions (grouped by prompt) inside the caller's transaction.

        Known versions with the same hash are skipped (a draft of ours that the
        registry numbered gets its number); the same id with other content, or a
        parent that is nowhere, raises and so rolls the whole transaction back. A
        handful of statements per call, not per version.
        """
        batch = _index_batch(groups, source, nothing)
        known = _known_versions(s, list(batch))
        rows = _NewRows(absent=_absent_parents(s, batch, known))
        result = AddedVersions(prompt_ids=_prompt_ids(s, groups))
        for name, created_at, archived, versions in groups:
            if name not in result.prompt_ids:
                result.prompt_ids[name] = insert_prompt(s, name, created_at, archived).id
                result.prompts_created += 1
            pid = result.prompt_ids[name]
            for v in versions:
                seen = known.get(str(v.id))
                if seen is None:
                    rows.add(v, name, pid, source, nothing)
                    result.added += 1
                else:
                    _check_known(s, v, name, pid, seen, source, nothing, rows.numbered)
                    result.skipped += 1
        rows.write(s)
        _reindex(s, rows.touched, {pid: name for name, pid in result.prompt_ids.items()})
        return result


_Groups = Sequence[tuple[str, datetime, bool, Sequence[PromptVersion | BundleVersion]]]
_Known = tuple[str, int | None, int]
"""A stored version: its content hash, registry number and prompt id."""


def _index_batch(
    groups: _Groups, source: str, nothing: str
) -> dict[str, PromptVersion | BundleVersion]:
    """The versions to add by id; an id given twice is refused (the file was edited)."""
    batch: dict[str, PromptVersion | BundleVersion] = {}
    home: dict[str, str] = {}
    for name, _, _, versions in groups:
        for v in versions:
            vid = str(v.id)
            if vid in batch:
                where = "twice" if home[vid] == name else f"in {home[vid]!r} and {name!r}"
                raise InputError(
                    f"{source} holds version {v.id} {where}",
                    hint=f"Each version id appears once; the file was edited or "
                    f"joined by hand. {nothing}",
                )
            batch[vid], home[vid] = v, name
    return batch


def _known_versions(s: Session, ids: list[str]) -> dict[str, _Known]:
    """Those of ``ids`` the vault already holds."""
    known: dict[str, _Known] = {}
    for chunk in chunks(ids, 500):
        for vid, vhash, number, prompt_id in s.execute(
            select(
                VersionRow.id, VersionRow.content_hash, VersionRow.number, VersionRow.prompt_id
            ).where(VersionRow.id.in_(chunk))
        ):
            known[vid] = (vhash, number, prompt_id)
    return known


def _absent_parents(
    s: Session, batch: dict[str, PromptVersion | BundleVersion], known: dict[str, _Known]
) -> set[str]:
    """Parents named by the batch that are neither in it nor in the vault."""
    outside = {str(p) for v in batch.values() for p in v.parent_ids if str(p) not in batch} - set(
        known
    )
    found: set[str] = set()
    for chunk in chunks(list(outside), 500):
        found.update(s.scalars(select(VersionRow.id).where(VersionRow.id.in_(chunk))))
    return outside - found


def _prompt_ids(s: Session, groups: _Groups) -> dict[str, int]:
    """The ids of the groups' prompts the vault already has."""
    ids: dict[str, int] = {}
    names = list(dict.fromkeys(name for name, _, _, _ in groups))
    for chunk in chunks(names, 500):
        for name, pid in s.execute(
            select(PromptRow.name, PromptRow.id).where(PromptRow.name.in_(chunk))
        ):
            ids[name] = pid
    return ids


def _check_known(
    s: Session,
    v: PromptVersion | BundleVersion,
    name: str,
    pid: int,
    seen: _Known,
    source: str,
    nothing: str,
    numbered: list[dict[str, Any]],
) -> None:
    """A version the vault has: the same content under the same prompt, or a conflict.
    A draft of ours that the other side numbered gets its number (queued in ``numbered``)."""
    vhash, number, known_pid = seen
    if vhash != v.content_hash:
        raise ConflictError(
            f"version {v.id} of {name!r} differs between this vault and {source}",
            hint=f"Version ids are unique, so one side is corrupt. {nothing}",
        )
    if known_pid != pid:
        other = s.scalar(select(PromptRow.name).where(PromptRow.id == known_pid))
        raise ConflictError(
            f"version {v.id} is in this vault as a version of {other!r}, and "
            f"{source} has it under {name!r}",
            hint="A version belongs to one prompt: the other name was given "
            f"to a copy (renamed by hand?). {nothing}",
        )
    if number is None and v.number is not None:
        numbered.append({"vid": str(v.id), "n": v.number, "a": v.author})


@dataclass
class _NewRows:
    """The rows of the versions to add, gathered so each table takes one bulk insert."""

    absent: set[str]
    versions: list[dict[str, Any]] = field(default_factory=list)
    parents: list[dict[str, Any]] = field(default_factory=list)
    numbered: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[int, list[PromptVersion | BundleVersion]] = field(default_factory=dict)

    def add(
        self, v: PromptVersion | BundleVersion, name: str, pid: int, source: str, nothing: str
    ) -> None:
        """Check a new version (templates as at commit, a whole history) and queue its rows."""
        vid = str(v.id)
        try:  # the same template check as commit: syntax and rendering limits
            validate_content(v.content)
        except InputError as exc:
            raise InputError(
                f"version {v.id} of {name!r} in {source}: {exc.message}",
                hint=f"{exc.hint} {nothing}",
            ) from None
        for pos, parent in enumerate(v.parent_ids):
            if str(parent) in self.absent:
                raise InputError(
                    f"version {v.id} of {name!r} in {source} names parent {parent}, "
                    "which is neither there nor in this vault",
                    hint=f"A whole history is needed. {nothing}",
                )
            self.parents.append({"version_id": vid, "parent_id": str(parent), "position": pos})
        self.versions.append(
            {
                "id": vid,
                "prompt_id": pid,
                "content": canonical_json(v.content.canonical()).decode("utf-8"),
                "content_hash": v.content_hash,
                "message": v.message,
                "author": v.author,
                "created_at": v.created_at,
                "number": v.number,
            }
        )
        self.touched.setdefault(pid, []).append(v)

    def write(self, s: Session) -> None:
        # Versions before their parents' links (foreign keys are checked per statement).
        if self.versions:
            s.execute(insert(VersionRow), self.versions)
        if self.parents:
            s.execute(insert(VersionParentRow), self.parents)
        if self.numbered:
            s.execute(
                text(
                    "UPDATE versions SET number = :n, author = :a "
                    "WHERE id = :vid AND number IS NULL"
                ),
                self.numbered,
            )


def _reindex(
    s: Session,
    touched: dict[int, list[PromptVersion | BundleVersion]],
    names_by_id: dict[int, str],
) -> None:
    """Add the new versions to their prompts' search documents: one delete, one insert."""
    docs = []
    for pid, added in touched.items():
        doc = read_doc(s, pid, names_by_id[pid])
        for v in added:
            doc.add(v)
        docs.append({"id": pid, **doc.params()})
    for chunk_ids in chunks(list(touched), 500):
        s.execute(
            text("DELETE FROM search_index WHERE rowid IN (SELECT value FROM json_each(:i))"),
            {"i": json.dumps(chunk_ids)},
        )
    if docs:
        s.execute(INSERT_DOC, docs)
