"""A run's cells as flat records: one schema for ``compare --csv``, ``runs show --csv``
and the window's Export grid (CSV and JSON). The CLI wrote 21 columns and the window
19, with different names for the same thing; a spreadsheet built on one export broke
on the other.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from workbench.core.runs import CellResult

if TYPE_CHECKING:
    from workbench.vault import Vault
    from workbench.vault.run_queries import LogEntry

CELL_FIELDS: tuple[str, ...] = (
    "version",
    "version_id",
    "profile",
    "model",
    "case",
    "case_index",
    "repeat",
    "ok",
    "passed",
    "failed_checks",
    "error_kind",
    "error",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "tokens_estimated",
    "cost_usd",
    "price_source",
    "ttft_ms",
    "latency_ms",
    "retries",
    "cached",
    "echo",
    "answered_by",
    "request_hash",
    "output",
)
"""The columns, in order. ``cost_usd`` empty means unknown (no price), never 0."""


def _readouts(cell: CellResult) -> dict[str, Any]:
    """The call's own figures, the same keys in every export."""
    return {
        "error_kind": cell.error_kind,
        "error": cell.error,
        "finish_reason": cell.finish_reason,
        "input_tokens": cell.input_tokens,
        "output_tokens": cell.output_tokens,
        "tokens_estimated": cell.tokens_estimated,
        "cost_usd": cell.cost_usd,
        "price_source": cell.price_source,
        "ttft_ms": cell.ttft_ms,
        "latency_ms": cell.latency_ms,
        "cached": cell.cached,
        "answered_by": str(cell.answered_by) if cell.answered_by else None,
    }


def cell_record(cell: CellResult, *, version: str, case: str) -> dict[str, Any]:
    """One cell as plain values (None where a figure is unknown), keyed by
    :data:`CELL_FIELDS`. ``version`` and ``case`` are the names people use."""
    failed = [f"{c.assertion.describe()}: {c.detail}" for c in cell.checks if not c.passed]
    return {
        "version": version,
        "version_id": str(cell.key.version_id),
        "profile": cell.key.model.profile,
        "model": cell.key.model.model,
        "case": case,
        "case_index": cell.key.case_index,
        "repeat": cell.key.repeat,
        "ok": cell.ok,
        "passed": cell.passed,
        "failed_checks": "; ".join(failed),
        **_readouts(cell),
        "retries": len(cell.retries),
        "echo": cell.echo,
        "request_hash": cell.request_hash,
        "output": cell.output,
    }


_FORMATS = {"cost_usd": "{:.8f}", "ttft_ms": "{:.1f}", "latency_ms": "{:.1f}"}


def _csv_value(field: str, value: Any) -> Any:
    if value is None:
        return ""
    fmt = _FORMATS.get(field)
    return fmt.format(value) if fmt else value


def records_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """CSV with the :data:`CELL_FIELDS` header (also when there are no records)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CELL_FIELDS)
    writer.writeheader()
    for record in records:
        writer.writerow({f: _csv_value(f, record[f]) for f in CELL_FIELDS})
    return buf.getvalue()


def records_json(records: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps(list(records), indent=1, ensure_ascii=False)


def log_records(vault: Vault, entries: Iterable[LogEntry]) -> list[dict[str, Any]]:
    """The run log's entries as flat records, one schema for ``workbench log --jsonl``
    and the window's Log view (and its export): the version as people name it, the
    case by name with its variables redacted (key-shaped values, registered secrets),
    every readout and the retries."""
    import uuid

    from workbench.core.errors import WorkbenchError
    from workbench.secrets.redaction import redact
    from workbench.vault.runs import RunStore

    store = RunStore(vault)
    names: dict[str, str] = {}
    specs: dict[str, Any] = {}
    out = []
    for entry in entries:
        cell = entry.cell
        vid = str(cell.key.version_id)
        if vid not in names:
            try:
                names[vid] = vault.version_by_id(uuid.UUID(vid)).display_number
            except WorkbenchError:
                names[vid] = vid[:8]
        if entry.run_id not in specs:
            specs[entry.run_id] = store.load_spec(entry.run_id)
        spec = specs[entry.run_id]
        index = cell.key.case_index
        case = spec.cases[index] if spec is not None and index < len(spec.cases) else None
        out.append(
            {
                "at": cell.finished_at.isoformat(),
                "run_id": entry.run_id,
                "prompt": entry.prompt,
                "version": names[vid],
                "version_id": vid,
                "profile": cell.key.model.profile,
                "model": cell.key.model.model,
                "case": (case.name if case else "") or f"case {index + 1}",
                "variables": {k: redact(str(v)) for k, v in case.values.items()} if case else {},
                "repeat": cell.key.repeat,
                "kind": cell.kind,
                "ok": cell.ok,
                "checks": len(cell.checks),
                "checks_passed": sum(1 for c in cell.checks if c.passed),
                "output": cell.output,
                **_readouts(cell),
                "retries": [r.model_dump(mode="json") for r in cell.retries],
            }
        )
    return out


def records_jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
