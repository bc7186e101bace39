"""Reviews of a version: who may review, the reviewer from the token, the content
hash reviewed, no self-approval, a comment when requesting changes, and the evidence
attached (checked by :class:`SuiteService`)."""

from __future__ import annotations

import uuid

from workbench.core.errors import (
    HashMismatchError,
    InputError,
    NotFoundError,
)
from workbench.core.models import (
    utcnow,
)
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import Review, ReviewIn
from workbench.registry.server import repository as repo
from workbench.registry.server.auth import Actor, require_role
from workbench.registry.server.base import ServiceBase
from workbench.registry.server.suites import SuiteService
from workbench.registry.server.tables import ReviewRow


class ReviewsMixin(ServiceBase):
    """Adding and listing reviews."""

    def review(self, actor: Actor, version_id: uuid.UUID, review: ReviewIn) -> Review:
        require_role(actor, "reviewer", "reviewing")
        if review.reviewer is not None and review.reviewer != actor.name:
            raise PermissionDeniedError(
                f"the review claims the reviewer {review.reviewer!r} but the token belongs to "
                f"{actor.name!r}",
                hint="Reviewers are taken from the token; leave 'reviewer' out.",
            )
        if review.decision == "request_changes" and not review.comment.strip():
            raise InputError(
                "requesting changes needs a comment that says what should change",
                hint="Send the review again with a non-empty 'comment'.",
            )
        now = utcnow()
        with self.db.writing() as session:
            head = repo.lock_head(session)
            found = repo.versions_with_prompt(session, [version_id]).get(version_id)
            if found is None:
                raise NotFoundError(f"no version {version_id}", hint="Push it before reviewing.")
            version, prompt_name = found
            if review.content_hash != version.content_hash:
                raise HashMismatchError(
                    f"the review is for content {review.content_hash[:12]}... but version "
                    f"{version_id} has {version.content_hash[:12]}...",
                    hint="Review the version's current content and send its content_hash.",
                )
            if review.decision == "approve" and version.author == actor.name:
                raise PermissionDeniedError(
                    f"{actor.name} wrote v{version.number} of {prompt_name} and cannot approve it",
                    hint="Ask another reviewer to approve it.",
                )
            SuiteService.check_review(session, prompt_name, version, review)
            row = ReviewRow(
                id=uuid.uuid4(),
                version_id=version_id,
                content_hash=version.content_hash,
                reviewer=actor.name,
                decision=review.decision,
                comment=review.comment,
                evidence=review.evidence.model_dump_json() if review.evidence else None,
                created_at=now,
                suite_hash=review.suite_hash,
            )
            session.add(row)
            repo.add_change(
                session, head, kind="review", prompt=prompt_name, ref=str(row.id), at=now
            )
            repo.append_audit(
                session,
                head,
                at=now,
                actor=actor.name,
                action=f"review.{review.decision}",
                subject=f"prompt:{prompt_name}",
                detail={
                    "version": str(version_id),
                    "number": version.number,
                    "suite": review.suite_hash,
                    "comment": review.comment,
                    "evidence": review.evidence.model_dump(mode="json")
                    if review.evidence
                    else None,
                },
            )
            return repo.to_review(row, prompt_name)

    def reviews(self, version_id: uuid.UUID) -> list[Review]:
        with self.db.reading() as session:
            found = repo.versions_with_prompt(session, [version_id]).get(version_id)
            if found is None:
                raise NotFoundError(f"no version {version_id}", hint="Check the version id.")
            return [repo.to_review(r, found[1]) for r in repo.reviews_for(session, version_id)]
