"""The full-text search of a vault: one FTS5 document per prompt, and the query over it.

Functions over a ``Session``, so a store that adds versions updates the document in
its own transaction.
"""

from __future__ import annotations

import itertools
import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from workbench.core.models import PromptVersion, SearchHit
from workbench.vault.bundle import BundleVersion

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def fts_query(user_text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: every word must match.

    The last word also matches as a prefix (search as you type); the others match
    whole, which keeps multi-word queries on the index's fast path.
    """
    words = _WORD_RE.findall(user_text)
    if not words:
        return ""
    return " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])


INSERT_DOC = text(
    "INSERT INTO search_index(rowid, prompt, tags, messages, templates, history) "
    "VALUES (:id, :p, :t, :m, :tpl, :h)"
)


INDEXED_TEMPLATE_CHARS = 4_000
"""How much of the newest text is indexed word by word (and shown in snippets): a page.
The rest is found through ``history``'s distinct words. FTS5's snippet() grows faster
than linearly with a column's matches: over a whole 1 MB prompt a search that found it
took seconds, over 20,000 characters ~70 ms, over 4,000 under 10 ms."""
INDEXED_WORDS = 50_000
"""Distinct words kept per prompt in ``history``: more than any prose prompt has; a
prompt of random tokens (pasted data) keeps its first 50,000."""


class SearchDoc:
    """The text a prompt is found by.

    ``templates`` is the start of the newest version's text (what snippets show);
    ``history`` holds each distinct word of every version's templates once, so old
    wording, and the rest of a long prompt, stay findable without storing 20
    near-copies of a prompt. Both are bounded, so a query costs about the same
    whatever the size of the prompts it finds.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.tags: dict[str, None] = {}
        self.messages: dict[str, None] = {}
        self.latest = ""
        self.words: dict[str, None] = {}

    def add(self, v: PromptVersion | BundleVersion) -> None:
        self.tags.update(dict.fromkeys(v.content.tags))
        if v.message:
            self.messages[v.message.replace("\n", " ")] = None
        self.latest = "\n".join(m.template for m in v.content.messages)
        self.words.update(dict.fromkeys(_WORD_RE.findall(self.latest.lower())))

    def params(self) -> dict[str, str]:
        return {
            "p": self.name,
            "t": " ".join(self.tags),
            "m": "\n".join(k for k in self.messages if k),
            "tpl": self.latest[:INDEXED_TEMPLATE_CHARS],
            "h": " ".join(itertools.islice(self.words, INDEXED_WORDS)),
        }


def read_doc(s: Session, prompt_id: int, name: str) -> SearchDoc:
    row = s.execute(
        text("SELECT tags, messages, templates, history FROM search_index WHERE rowid = :id"),
        {"id": prompt_id},
    ).first()
    doc = SearchDoc(name)
    if row is not None:
        doc.tags.update(dict.fromkeys(row[0].split()))
        doc.messages.update(dict.fromkeys(row[1].split("\n")))
        doc.latest = row[2]
        doc.words.update(dict.fromkeys(row[3].split()))
    return doc


def write_doc(s: Session, prompt_id: int, doc: SearchDoc) -> None:
    s.execute(text("DELETE FROM search_index WHERE rowid = :id"), {"id": prompt_id})
    s.execute(INSERT_DOC, [{"id": prompt_id, **doc.params()}])


def search(s: Session, query: str, limit: int = 50) -> list[SearchHit]:
    """Full-text search over names, tags, commit messages and every version's templates.

    One hit per prompt, best first; every word must match (as a prefix).
    """
    match = fts_query(query)
    if not match:
        return []
    rows = s.execute(
        text(
            "SELECT prompt, snippet(search_index, -1, '[', ']', '…', 10), rank "
            "FROM search_index WHERE search_index MATCH :q ORDER BY rank LIMIT :n"
        ),
        {"q": match, "n": limit},
    ).all()
    return [
        SearchHit(prompt=p, version_id=None, field="prompt", snippet=snip, rank=float(rank))
        for p, snip, rank in rows
    ]
