"""Sensitive variables: sent to the model in clear, never stored in clear.

A case's values of variables a version marks ``sensitive`` are masked in every stored
cell (its messages, answer, error and check details) and in the stored spec.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.models import PromptVersion
from workbench.core.runs import (
    CellResult,
    RunSpec,
)

log = logging.getLogger(__name__)

SENSITIVE_MIN_CHARS = 3
"""Shorter values are not masked in stored text (a "1" would shred every number)."""


def sensitive_values(version: PromptVersion, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value as text) of each sensitive variable of ``version`` this case sets
    (or its default), longest first."""
    out = []
    for variable in version.content.variables:
        if variable.sensitivity != "sensitive":
            continue
        value = values.get(variable.name, variable.default)
        if value is not None and len(str(value)) >= SENSITIVE_MIN_CHARS:
            out.append((variable.name, str(value)))
    return sorted(out, key=lambda nv: -len(nv[1]))


def mask_sensitive(text: str, sensitive: Sequence[tuple[str, str]]) -> str:
    for name, value in sensitive:
        text = text.replace(value, f"[sensitive: {name}]")
    return text


def masked_cell(cell: CellResult, sensitive: Sequence[tuple[str, str]]) -> CellResult:
    """The cell as stored: no sensitive value in its messages, answer or error."""
    if not sensitive:
        return cell
    return cell.model_copy(
        update={
            "rendered": tuple(
                {**m, "content": mask_sensitive(m.get("content", ""), sensitive)}
                for m in cell.rendered
            ),
            "output": mask_sensitive(cell.output, sensitive),
            "error": None if cell.error is None else mask_sensitive(cell.error, sensitive),
            "checks": tuple(
                c.model_copy(
                    update={
                        "detail": mask_sensitive(c.detail, sensitive),
                        "reason": mask_sensitive(c.reason, sensitive),
                    }
                )
                for c in cell.checks
            ),
        }
    )


def masked_spec(spec: RunSpec, versions: Sequence[PromptVersion]) -> RunSpec:
    """The spec as stored: the cases' values of variables any of the run's versions
    marks sensitive are ``[sensitive]``."""
    names = {
        v.name for version in versions for v in version.content.variables
        if v.sensitivity == "sensitive"
    }  # fmt: skip
    if not names:
        return spec
    cases = tuple(
        c.model_copy(
            update={"values": {k: "[sensitive]" if k in names else v for k, v in c.values.items()}}
        )
        for c in spec.cases
    )
    return spec.model_copy(update={"cases": cases})
