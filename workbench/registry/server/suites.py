"""Test suites and evidence policies in the registry (kept out of ``service.py``).

A suite is pushed as its own content-addressed object (``suites``, keyed by the suite
hash of :mod:`workbench.core.suites`) and becomes its prompt's current suite
(``prompts.suite_hash``) by compare-and-swap on the suite the author started from.
Its arrival is a change of kind ``suite`` in the feed, so every teammate's sync pulls
the cases without anyone carrying them by hand.

A review names ``(content_hash, suite_hash)``. The evidence it attaches is checked
here with the one rule of :mod:`workbench.registry.policy`, in the review's own
transaction; a ``--require-evidence`` registry checks it again at publish, against
the prompt's suite *then*.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from workbench.core.errors import ConflictError, HashMismatchError, InputError, NotFoundError
from workbench.core.models import canonical_json, utcnow
from workbench.core.suites import short, stored_suite, suite_hash
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.policy import attach_problem, policy_for, publish_problem
from workbench.registry.schemas import (
    EvalEvidence,
    FolderPolicy,
    ReviewIn,
    Suite,
    SuitePush,
    UserRole,
)
from workbench.registry.server import repository as repo
from workbench.registry.server import suite_repository as srepo
from workbench.registry.server.db import Database
from workbench.registry.server.tables import PolicyRow, PromptRow, ReviewRow, SuiteRow, VersionRow


class SuiteService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- suites ----------------------------------------------------------------------

    def push_suite(
        self, actor_name: str, actor_role: UserRole, prompt: str, push: SuitePush
    ) -> tuple[Suite, bool]:
        """Store the suite and make it current; False when it already was (a retry)."""
        if actor_role == "app":
            raise PermissionDeniedError(
                f"{actor_name} has an app token; pushing a suite needs the 'author' role",
                hint="Push suites with an author's token (workbench sync).",
            )
        actual = suite_hash(push.cases)
        if actual != push.suite_hash:
            raise HashMismatchError(
                f"suite_hash {push.suite_hash[:12]}... does not match the cases (they hash "
                f"to {(actual or '')[:12]}...)",
                hint="Recompute the hash from the cases; the suite was not stored.",
            )
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            prompt_row = self._prompt(session, prompt)
            if prompt_row.suite_hash == push.suite_hash:  # a retry, or the same cases again
                row = srepo.suite_row(session, push.suite_hash)
                assert row is not None
                return srepo.to_suite(row, prompt), False
            if prompt_row.suite_hash != push.parent_hash:
                raise ConflictError(
                    f"the suite of {prompt} changed in the registry (it is now "
                    f"{short(prompt_row.suite_hash)}, you started from "
                    f"{short(push.parent_hash)}); sync to pull it, merge your cases into "
                    "it, and sync again",
                    hint="workbench sync pulls the registry's cases when yours are unchanged.",
                )
            row = srepo.suite_row(session, push.suite_hash)
            if row is None:
                row = SuiteRow(
                    hash=push.suite_hash,
                    cases=canonical_json(stored_suite(push.cases)).decode("utf-8"),
                    case_count=len(push.cases),
                    author=actor_name,
                    pushed_at=now,
                )
                session.add(row)
            prompt_row.suite_hash = push.suite_hash
            session.flush()
            repo.add_change(session, head, kind="suite", prompt=prompt, ref=row.hash, at=now)
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor_name,
                action="suite.push",
                subject=f"prompt:{prompt}",
                detail={
                    "suite": push.suite_hash,
                    "parent": push.parent_hash,
                    "cases": len(push.cases),
                },
            )
            return srepo.to_suite(row, prompt), True

    def suite(self, prompt: str, hash_: str | None = None) -> Suite:
        """``prompt``'s current suite, or the stored suite ``hash_``."""
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            wanted = hash_ or prompt_row.suite_hash
            if wanted is None:
                raise NotFoundError(
                    f"{prompt} has no test suite in the registry",
                    hint="Set its cases (workbench cases set) and sync.",
                )
            row = srepo.suite_row(session, wanted)
            if row is None or not srepo.was_suite_of(session, prompt, wanted):
                raise NotFoundError(
                    f"{prompt} has no suite {wanted[:12]}", hint="Check the suite hash."
                )
            return srepo.to_suite(row, prompt)

    @staticmethod
    def _prompt(session: Session, name: str) -> PromptRow:
        row = repo.prompt_by_name(session, name)
        if row is None:
            raise NotFoundError(
                f"no prompt named {name!r}", hint="Push a version of it first (workbench sync)."
            )
        return row

    # --- policies --------------------------------------------------------------------

    def policies(self) -> list[FolderPolicy]:
        with self.db.reading() as session:
            return srepo.policies(session)

    def policy(self, prompt: str) -> FolderPolicy:
        """The policy in force for ``prompt`` (an empty one when none is set)."""
        with self.db.reading() as session:
            return policy_for(prompt, srepo.policies(session))

    def set_policy(self, policy: FolderPolicy, *, actor: str = "admin") -> FolderPolicy:
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            row = srepo.policy_row(session, policy.folder)
            if row is None:
                row = PolicyRow(folder=policy.folder)
                session.add(row)
            row.data = policy.model_dump_json()
            row.updated_at = now
            row.updated_by = actor
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor,
                action="policy.set",
                subject=f"folder:{policy.folder}",
                detail=policy.model_dump(mode="json"),
            )
        return policy

    def clear_policy(self, folder: str, *, actor: str = "admin") -> bool:
        folder = FolderPolicy(folder=folder).folder
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            row = srepo.policy_row(session, folder)
            if row is None:
                return False
            session.delete(row)
            repo.append_audit(
                session, head, at=now, actor=actor, action="policy.clear",
                subject=f"folder:{folder}", detail={},
            )  # fmt: skip
        return True

    # --- evidence (called inside the review's and the label move's transactions) ------

    @staticmethod
    def check_review(session: Session, prompt: str, version: VersionRow, review: ReviewIn) -> None:
        """Refuse a review naming an unknown suite, or attaching evidence the rule refuses."""
        suite = srepo.suite_row(session, review.suite_hash) if review.suite_hash else None
        if review.suite_hash is not None and (
            suite is None or not srepo.was_suite_of(session, prompt, review.suite_hash)
        ):
            raise NotFoundError(
                f"the review names suite {review.suite_hash[:12]}, which the registry does not "
                f"have for {prompt}",
                hint="Sync first: it pushes the prompt's cases and pulls the team's.",
            )
        if review.evidence is None:
            return
        problem = attach_problem(
            review.evidence,
            prompt=prompt,
            content_hash=version.content_hash,
            suite_hash=review.suite_hash,
            suite_cases=suite.case_count if suite is not None else None,
            policy=policy_for(prompt, srepo.policies(session)),
        )
        if problem:
            raise InputError(
                f"refused the evidence for v{version.number} of {prompt}: {problem}",
                hint="Attach a finished run of this version on every case of the suite "
                "(or review without evidence).",
            )

    @staticmethod
    def publish_problem(
        session: Session, prompt: str, version: VersionRow, approvals: list[ReviewRow]
    ) -> str | None:
        """Why none of ``approvals`` lets the version onto a protected label of a
        registry that requires evidence (the first approval's reason), or None."""
        prompt_row = session.get(PromptRow, version.prompt_id)
        current = prompt_row.suite_hash if prompt_row is not None else None
        policy = policy_for(prompt, srepo.policies(session))
        problems = []
        for r in approvals:
            evidence = EvalEvidence.model_validate_json(r.evidence) if r.evidence else None
            problem = publish_problem(
                evidence,
                prompt=prompt,
                number=version.number,
                current_suite_hash=current,
                review_suite_hash=r.suite_hash,
                policy=policy,
            )
            if problem is None:
                return None
            problems.append(f"{r.reviewer}'s approval: {problem}")
        return f"v{version.number} of {prompt} lacks evidence: " + "; ".join(problems)
