"""A prompt's test suite as reviewed content: its hash and its diff.

Why a hash of its own, apart from the version's ``content_hash``: the suite (the
cases and their assertions) belongs to the prompt, not to one version, and changes on
its own schedule: an author who adds a case must not have to commit a new version of
an unchanged prompt, and a version's hash must not move when a case does (the
registry's numbers, reviews and production resolutions all name versions by it). So
the suite is hashed separately, travels through the registry as its own
content-addressed object keyed by this hash, and a review names the pair it looked at:
``(content_hash, suite_hash)``. An approval then says exactly which cases it rests
on, and a registry that requires evidence can tell an approval made against an older
suite from one made against the prompt's current suite.

The canonical form: cases sorted by name (order is presentation, not content; names
are unique within a suite), each as ``{name, values, assertions}`` with every
assertion dumped *without its None fields*, so an optional field added to
:class:`~workbench.core.assertions.Assertion` later (as ``model``, ``scale`` and
``prompt`` were) leaves the hashes of suites that do not use it where they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.models import canonical_json
from workbench.core.runs import TestCase, cases_or_defaults


def canonical_case(case: TestCase) -> dict[str, Any]:
    """One case as it is hashed (and sent): assertions without their None fields."""
    return {
        "name": case.name,
        "values": case.values,
        "assertions": [a.model_dump(mode="json", exclude_none=True) for a in case.assertions],
    }


def canonical_suite(cases: Sequence[TestCase]) -> list[dict[str, Any]]:
    """The cases as hashed: sorted by name."""
    return [canonical_case(c) for c in sorted(cases, key=lambda c: c.name)]


def stored_suite(cases: Sequence[TestCase]) -> list[dict[str, Any]]:
    """The cases as stored and sent: canonical each, in the author's order (the order
    the grid shows; it does not change the hash)."""
    return [canonical_case(c) for c in cases]


def suite_hash(cases: Sequence[TestCase]) -> str | None:
    """SHA-256 over the canonical JSON of the cases; None for no cases (no suite)."""
    if not cases:
        return None
    return hashlib.sha256(canonical_json(canonical_suite(cases))).hexdigest()


NO_SUITE_RUNS = (cases_or_defaults(()), (TestCase(),))
"""The cases of a run that ran no suite: the stand-in "defaults" case a run of a prompt
without cases uses, and a run spec's own default (one bare case)."""


def run_suite_hash(cases: Sequence[TestCase]) -> str | None:
    """The suite a run ran: its cases' hash, None for a run of the declared defaults
    only (no suite)."""
    if tuple(cases) in NO_SUITE_RUNS:
        return None
    return suite_hash(cases)


def short(hash_: str | None) -> str:
    """A suite hash as people read it: 12 hex digits, or "no suite"."""
    return hash_[:12] if hash_ else "no suite"


@dataclass(frozen=True)
class SuiteDiff:
    """What changed from one suite to another, by case name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """``+ name`` / ``- name`` / ``~ name`` lines, for the CLI and the review panel."""
        return (
            [f"+ {n}" for n in self.added]
            + [f"- {n}" for n in self.removed]
            + [f"~ {n}" for n in self.changed]
        )

    def summary(self) -> str:
        if self.empty:
            return "no case changed"
        parts = []
        for count, what in (
            (len(self.added), "added"),
            (len(self.removed), "removed"),
            (len(self.changed), "changed"),
        ):
            if count:
                parts.append(f"{count} {what}")
        return ", ".join(parts)


def diff_suites(old: Sequence[TestCase], new: Sequence[TestCase]) -> SuiteDiff:
    """Cases added, removed and changed (values or assertions) from ``old`` to ``new``."""
    before = {c.name: canonical_case(c) for c in old}
    after = {c.name: canonical_case(c) for c in new}
    return SuiteDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(
            sorted(
                n
                for n in after.keys() & before.keys()
                if canonical_json(after[n]) != canonical_json(before[n])
            )
        ),
    )
