"""The registry's record of what ``resolve`` served whom, kept off the hot path.

Why this shape: ``resolve`` is the registry's hottest request (one indexed lookup and
a cached answer), so it must not write. It notes each answer in an in-memory buffer
(a dict update under a lock: well under a microsecond), keyed by (app, caller key,
prompt, label, version); a background thread flushes the buffer every
:data:`FLUSH_INTERVAL_S` in one transaction of upserts. The table holds one row per
such key with the first and last time it was served, so its size follows the number
of callers times the versions they were served, not the number of requests: a
caller polling every second for a month is still one row.

That is enough to link a span without prompt attributes: the version its caller was
served at the span's time is the row with the latest ``first_seen`` not after it
(label moves make new rows; a move back to an earlier version is seen by its
``last_seen``). What is given up: a resolution not yet flushed by another worker
process is invisible for up to a second; ingest flushes its own process's buffer
first, and spans arrive after their exporter's batch delay (5 s by default).
A full buffer (:data:`MAX_PENDING` keys) is flushed by the request that fills it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case

from workbench.registry.server.db import Database
from workbench.registry.server.tables import ResolutionRow
from workbench.registry.server.upsert import upsert

FLUSH_INTERVAL_S = 1.0
MAX_PENDING = 20_000

Key = tuple[str, str, str, str, uuid.UUID]


@dataclass
class _Seen:
    number: int
    served: str
    first: datetime
    last: datetime


class ResolutionLog:
    """The buffer of resolutions not yet written, and its flush."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[Key, _Seen] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def note(
        self,
        *,
        app: str,
        key: str | None,
        prompt: str,
        label: str,
        version_id: uuid.UUID,
        number: int,
        served: str,
        at: datetime,
    ) -> None:
        entry_key: Key = (app, key or "", prompt, label, version_id)
        with self._lock:
            seen = self._pending.get(entry_key)
            if seen is None:
                self._pending[entry_key] = _Seen(number, served, at, at)
            else:
                seen.last = at
            full = len(self._pending) >= MAX_PENDING
        if full:
            self.flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what is buffered (one transaction); returns the rows written."""
        with self._flush_lock:
            with self._lock:
                taken, self._pending = self._pending, {}
            if not taken:
                return 0
            rows: list[dict[str, Any]] = [
                {
                    "app": app,
                    "caller_key": key,
                    "prompt": prompt,
                    "label": label,
                    "version_id": version_id,
                    "version_number": seen.number,
                    "served": seen.served,
                    "first_seen": seen.first,
                    "last_seen": seen.last,
                }
                for (app, key, prompt, label, version_id), seen in sorted(
                    taken.items(), key=lambda item: tuple(map(str, item[0]))
                )
            ]
            table = ResolutionRow.__table__
            try:
                with self.db.writing() as session:
                    upsert(
                        session,
                        table,  # type: ignore[arg-type]
                        rows,
                        ("app", "caller_key", "prompt", "label", "version_id"),
                        lambda excluded: {
                            "last_seen": case(
                                (excluded.last_seen > table.c.last_seen, excluded.last_seen),
                                else_=table.c.last_seen,
                            ),
                            "first_seen": case(
                                (excluded.first_seen < table.c.first_seen, excluded.first_seen),
                                else_=table.c.first_seen,
                            ),
                        },
                    )
            except Exception:
                with self._lock:  # keep them for the next round
                    for key, seen in taken.items():
                        self._pending.setdefault(key, seen)
                raise
            return len(rows)
