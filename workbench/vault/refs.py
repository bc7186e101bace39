"""Resolving a reference ('latest', 'vN', 'draft N', a label, an id) to one of a
prompt's versions: a pure function, shared by the ORM side (``vault.versions``) and
the plain-SQL run path (``vault.direct``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.models import PromptVersion


def resolve_ref(
    name: str, versions: Sequence[PromptVersion], labels: Mapping[str, uuid.UUID], ref: str
) -> PromptVersion:
    """The version ``ref`` names among ``versions`` (oldest first) given the prompt's
    ``labels``: 'latest', 'vN' (registry number), 'draft N', a label, a full or short id."""
    if not versions:
        raise NotFoundError(f"{name!r} has no versions yet", hint="Commit one first.")
    if ref in ("latest", "head", ""):
        return versions[-1]
    if re.fullmatch(r"v\d+", ref):
        for v in versions:
            if v.number == int(ref[1:]):
                return v
    draft = re.fullmatch(r"draft ?(\d+)(?: \(([0-9a-f]+)\))?", ref)
    if draft:
        for v in versions:
            if v.local_ordinal == int(draft.group(1)) and (
                draft.group(2) is None or v.id.hex.startswith(draft.group(2))
            ):
                return v
    if ref in labels:
        return next(v for v in versions if v.id == labels[ref])
    if re.fullmatch(r"[0-9a-fA-F-]{4,36}", ref):
        want = ref.lower().replace("-", "")
        found = [v for v in versions if v.id.hex.startswith(want)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UsageError(
                f"{ref!r} matches {len(found)} versions of {name!r}",
                hint="Give more characters of the version id.",
            )
    raise NotFoundError(
        f"{name!r} has no version {ref!r}",
        hint=f"Refer to versions as latest, vN, a label or an id; see: "
        f"workbench vault history {name}",
    )
