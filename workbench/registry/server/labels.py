"""Labels: reading one, and moving one by compare-and-swap, always with a reason (it
goes into the audit log). A protected label (``production``) moves only for a publisher
and only to versions another reviewer approved (with evidence when the registry
requires it)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from workbench.core.errors import (
    InputError,
    NotFoundError,
    StaleLabelError,
)
from workbench.core.models import (
    utcnow,
)
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import LabelMove, LabelState
from workbench.registry.server import repository as repo
from workbench.registry.server.auth import Actor, require_role
from workbench.registry.server.base import ServiceBase, validated_label
from workbench.registry.server.suites import SuiteService
from workbench.registry.server.tables import LabelRow, ReviewRow, VersionRow


class LabelsMixin(ServiceBase):
    """Reading and moving labels."""

    def label(self, prompt: str, name: str) -> LabelState:
        validated_label(name)
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, name)
            if row is None:
                raise NotFoundError(
                    f"{prompt} has no label {name!r}", hint="Publish a version to it first."
                )
            return self._label_state(row, prompt)

    def move_label(self, actor: Actor, prompt: str, name: str, move: LabelMove) -> LabelState:
        validated_label(name)
        if name == "latest":
            raise InputError(
                "'latest' is reserved: as in Langfuse it always means the newest version",
                hint="Pick another label name, e.g. 'staging'.",
            )
        if not move.reason.strip():
            raise InputError(
                f"say why you move {name!r} of {prompt}: the reason is empty",
                hint="Write a reason; it goes into the audit log.",
            )
        protected = name in self.settings.protected_labels
        require_role(actor, "author", f"moving the label {name!r}")
        if protected:
            require_role(actor, "publisher", f"moving the protected label {name!r}")
        canary_in = move.target.canary
        if canary_in is not None and canary_in.guards and not canary_in.guards.any_limit():
            raise InputError(
                "the canary's guards set no limit",
                hint="Give at least one of max_error_rate, max_error_rate_over_stable, "
                "max_p95_ms, max_p95_ratio, max_cost_per_call_usd, max_cost_ratio.",
            )
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, name)
            current = repo.target_of(row) if row is not None else None
            if current != move.expected:
                raise StaleLabelError(
                    f"label {name!r} of {prompt} is at "
                    f"{current.describe() if current else 'nothing'}, not at "
                    f"{move.expected.describe() if move.expected else 'nothing'}",
                    expected=move.expected.describe() if move.expected else None,
                    actual=current.describe() if current else None,
                )
            if current == move.target:
                assert row is not None
                return self._label_state(row, prompt)
            wanted = [move.target.version_id]
            if move.target.canary is not None:
                wanted.append(move.target.canary.version_id)
            versions: dict[uuid.UUID, VersionRow] = {}
            for vid in wanted:
                v = repo.version_row(session, vid)
                if v is None or v.prompt_id != prompt_row.id:
                    raise NotFoundError(
                        f"{prompt} has no version {vid}", hint="Push the version first."
                    )
                versions[vid] = v
            if protected:
                for v in versions.values():
                    problem = self._approval_problem(session, v, prompt)
                    if problem:
                        raise PermissionDeniedError(
                            f"refused to move {name!r}: {problem}",
                            hint="Get an approval from another reviewer first"
                            + (
                                ", with evidence of a finished run on the prompt's current "
                                "suite (this registry requires evidence)."
                                if self.settings.require_eval_evidence
                                else "."
                            ),
                        )
            if row is None:
                row = LabelRow(prompt_id=prompt_row.id, name=name, canary_percent=0)
                session.add(row)
            row.version_id = move.target.version_id
            row.canary_version_id = move.target.canary.version_id if move.target.canary else None
            row.canary_percent = move.target.canary.percent if move.target.canary else 0
            guards = move.target.canary.guards if move.target.canary else None
            row.canary_guards = guards.model_dump_json() if guards is not None else None
            row.halted = None
            row.updated_at = now
            row.updated_by = actor.name
            session.flush()
            repo.add_change(session, head, kind="label", prompt=prompt, ref=str(row.id), at=now)
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor.name,
                action="label.move",
                subject=f"prompt:{prompt}",
                detail={
                    "label": name,
                    "from": current.model_dump(mode="json") if current else None,
                    "to": move.target.model_dump(mode="json"),
                    "to_number": versions[move.target.version_id].number,
                    "reason": move.reason,
                },
            )
            return self._label_state(row, prompt)

    def labels_of_version(self, version_id: uuid.UUID) -> list[str]:
        with self.db.reading() as session:
            return repo.labels_pointing_at(session, version_id)

    def _approval_problem(self, session: Session, version: VersionRow, prompt: str) -> str | None:
        """Why ``version`` may not go onto a protected label, or None when it may."""
        latest: dict[str, ReviewRow] = {}
        for r in repo.reviews_for(session, version.id):
            latest[r.reviewer] = r  # ordered oldest first: the last one counts
        approvals = [
            r
            for r in latest.values()
            if r.decision == "approve"
            and r.reviewer != version.author
            and r.content_hash == version.content_hash
        ]
        if not approvals:
            return (
                f"v{version.number} of {prompt} is not approved by a reviewer other than its "
                f"author ({version.author})"
            )
        if self.settings.require_eval_evidence:
            return SuiteService.publish_problem(session, prompt, version, approvals)
        return None
