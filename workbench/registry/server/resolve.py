"""``resolve``: the version a label serves, with a canary split chosen stably per
caller key; the hot read path, served from a cache of whole answers keyed by the
label's state, and noted in the record of resolutions."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from workbench.core.errors import (
    NotFoundError,
)
from workbench.registry.schemas import LabelState, Resolved
from workbench.registry.server import repository as repo
from workbench.registry.server.base import ServiceBase, validated_label, validated_prompt


def canary_pick(prompt: str, label: str, key: str, percent: int) -> bool:
    """True when ``key`` falls into the canary share: stable per key, even across servers."""
    digest = hashlib.sha256(f"{prompt}\x00{label}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


@dataclass(frozen=True)
class ResolvedBody:
    """A ``resolve`` answer as sent: the JSON of a :class:`Resolved` and its ETag, plus
    what was served (for the record of resolutions)."""

    body: bytes
    etag: str
    version_id: uuid.UUID | None = None
    number: int = 0
    served: str = "primary"


class ResolvedBodies:
    """Serialised ``resolve`` answers, keyed by everything an answer is made of.

    The key holds the label row's mutable fields as read in this very request, plus
    which version was served; versions are immutable. So an entry can never be stale,
    needs no invalidation, and is equally right with many processes on one database:
    a label move changes the key, and the old entry ages out of the LRU.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[object, ...], ResolvedBody] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> ResolvedBody | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: ResolvedBody) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class ResolveMixin(ServiceBase):
    """Resolving a label to the version it serves."""

    _resolved: ResolvedBodies

    def resolve(self, prompt: str, label: str, key: str | None = None) -> Resolved:
        """The version ``label`` serves; with a canary, chosen stably from ``key``."""
        validated_label(label)
        with self.db.reading() as session:
            prompt_row = self._prompt(session, prompt)
            row = repo.label_row(session, prompt_row, label)
            if row is None:
                raise NotFoundError(
                    f"{prompt} has no label {label!r}", hint="Publish a version to it first."
                )
            served = "primary"
            version_id = row.version_id
            if (
                row.canary_version_id is not None
                and key is not None
                and canary_pick(prompt, label, key, row.canary_percent)
            ):
                served, version_id = "canary", row.canary_version_id
            version = repo.version_row(session, version_id)
            assert version is not None
            return Resolved(
                prompt=prompt,
                label=label,
                served=served,
                version=repo.to_version(version, prompt),
                state=self._label_state(row, prompt),
            )

    def resolve_body(
        self, prompt: str, label: str, key: str | None = None, *, app: str | None = None
    ) -> ResolvedBody:
        """``resolve`` as the HTTP answer, byte for byte ``resolve(...).model_dump_json()``.

        The hot read path: one indexed lookup of the label's current state per call;
        the version and the serialised answer come from a cache keyed by that state.
        With ``app`` (the caller), the answer is noted in the record of resolutions
        (in memory, written in batches: see :mod:`resolutions`).
        """
        answer = self._resolve_body(prompt, label, key)
        if app is not None and answer.version_id is not None:
            self.telemetry.note_resolution(
                app, key, prompt, label, answer.version_id, answer.number, answer.served
            )
        return answer

    def note_resolved(self, app: str, resolved: Resolved, key: str | None = None) -> None:
        """Note a ``resolve`` answered outside :meth:`resolve_body` (the Langfuse API)."""
        assert resolved.version.number is not None
        self.telemetry.note_resolution(
            app,
            key,
            resolved.prompt,
            resolved.label,
            resolved.version.id,
            resolved.version.number,
            resolved.served,
        )

    def _resolve_body(self, prompt: str, label: str, key: str | None) -> ResolvedBody:
        validated_label(label)
        validated_prompt(prompt)
        with self.db.read_connection() as conn:
            pointer = repo.label_pointer(conn, prompt, label)
            if pointer is None:
                raise NotFoundError(
                    f"no prompt named {prompt!r}", hint="Push a version of it first."
                )
            has_label, version_id, canary_id, percent, updated_at, updated_by, guards, halted = (
                pointer
            )
            if not has_label or version_id is None:
                raise NotFoundError(
                    f"{prompt} has no label {label!r}", hint="Publish a version to it first."
                )
            served = "primary"
            if (
                canary_id is not None
                and key is not None
                and canary_pick(prompt, label, key, percent)
            ):
                served = "canary"
            cache_key = (
                prompt,
                label,
                served,
                version_id,
                canary_id,
                percent,
                updated_at,
                updated_by,
                guards,
                halted,
            )
            cached = self._resolved.get(cache_key)
            if cached is not None:
                return cached
            served_id = canary_id if served == "canary" and canary_id is not None else version_id
            version = repo.version_by_id(conn, served_id)
            assert version is not None  # the label's foreign keys guarantee it
        resolved = Resolved(
            prompt=prompt,
            label=label,
            served=served,
            version=repo.to_version(version, prompt),
            state=LabelState(
                prompt=prompt,
                name=label,
                target=repo.make_target(version_id, canary_id, percent, guards),
                protected=label in self.settings.protected_labels,
                updated_at=updated_at,
                updated_by=updated_by,
                halted=repo.halt_of(halted),
            ),
        )
        body = resolved.model_dump_json().encode("utf-8")
        answer = ResolvedBody(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            version_id=version.id,
            number=version.number,
            served=served,
        )
        self._resolved.put(cache_key, answer)
        return answer
