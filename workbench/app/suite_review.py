"""The suite a reviewer looks at, and what changed in it since production was approved.

One answer for ``workbench review``/``publish`` and the window's review panel: the
prompt's suite as the registry holds it (as of the last sync: the suite a review
names), and its diff against the suite the currently published version's approval
named (cases added, removed, changed). An approval from before suites travelled
named none: then every case is new, and it is said so. Reads the vault only.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.models import PromptVersion
from workbench.core.runs import TestCase
from workbench.core.suites import SuiteDiff, diff_suites, short
from workbench.registry.review import PUBLISHED_LABEL, mirrored_reviews, published_version
from workbench.vault.repository import Vault
from workbench.vault.suites import SuiteStore


@dataclass(frozen=True)
class SuiteReview:
    prompt: str
    suite_hash: str | None
    """The registry's suite of the prompt as of the last sync (None: it has none)."""
    cases: tuple[TestCase, ...]
    published: PromptVersion | None
    """The version the label points at (None: nothing published)."""
    base_hash: str | None
    """The suite its approval named (None: approved without a suite, or unpublished)."""
    base_known: bool
    """The vault holds the base suite's cases (False: never synced, or no suite)."""
    diff: SuiteDiff
    local_differs: bool = False
    """The local cases are not the registry's (changed here and not synced yet)."""
    label: str = PUBLISHED_LABEL

    def lines(self) -> list[str]:
        """The suite's hash and its diff, as the CLI prints it and the panel shows it."""
        if self.suite_hash:
            n = len(self.cases)
            head = f"suite {short(self.suite_hash)} ({n} case{'s' if n != 1 else ''})"
        else:
            head = "suite: none in the registry yet (add test cases, then sync)"
        out = [head]
        if self.local_differs:
            out.append(
                "  (your local cases differ from it: the next sync pushes them)"
                if self.suite_hash
                else "  (your local cases are not in the registry yet: the next sync pushes them)"
            )
        if self.published is None:
            out.append(f"  nothing is published to {self.label} yet")
            return out
        pub = f"{self.label} ({self.published.display_number})"
        if self.base_hash is None:
            out.append(f"  {pub} was approved without a suite: every case is new")
        elif self.base_hash == self.suite_hash:
            out.append(f"  the same suite {pub} was approved with")
        else:
            out.append(
                f"  vs suite {short(self.base_hash)} that {pub} was approved with: "
                + self.diff.summary()
            )
        out += [f"    {line}" for line in self.diff.lines()]
        return out


def suite_review(vault: Vault, prompt: str, label: str = PUBLISHED_LABEL) -> SuiteReview:
    """The prompt's reviewed suite and its diff against ``label``'s approval suite."""
    store = SuiteStore(vault)
    current_hash = store.registry_hash(prompt)
    current = store.suite(current_hash) or []
    published = published_version(vault, prompt, label)
    base_hash: str | None = None
    if published is not None:
        approvals = [r for r in mirrored_reviews(vault, published.id) if r.decision == "approve"]
        if approvals:
            base_hash = approvals[-1].suite_hash  # the newest approval counts
    base = store.suite(base_hash)
    local = store.local_hash(prompt)
    return SuiteReview(
        prompt=prompt,
        suite_hash=current_hash,
        cases=tuple(current),
        published=published,
        base_hash=base_hash,
        base_known=base is not None,
        diff=diff_suites(base or [], current),
        local_differs=local is not None and local != current_hash,
        label=label,
    )
