"""Vault at scale: 10,000 prompts x 20 versions (200,000 versions).

Prints figures, asserts nothing. Targets (issue 2): open + first page <= 300 ms,
FTS p95 <= 30 ms, commit one version <= 10 ms.

    .venv/bin/python bench/vault_scale.py [--prompts 10000] [--versions 20] [--keep PATH]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workbench.core.models import Message, ModelDefaults, PromptContent, Variable
from workbench.vault import Vault
from workbench.vault.bundle import Bundle, BundlePrompt, BundleVersion

BASE_WORDS = [
    "refund",
    "order",
    "shipping",
    "invoice",
    "greeting",
    "summary",
    "translate",
    "classify",
    "extract",
    "sentiment",
    "apology",
    "escalate",
    "policy",
    "warranty",
    "return",
    "exchange",
    "billing",
    "account",
    "password",
    "reset",
    "onboarding",
    "newsletter",
    "headline",
    "product",
    "review",
    "support",
    "triage",
    "priority",
    "customer",
    "tone",
    "formal",
    "friendly",
    "concise",
    "detailed",
    "bullet",
    "json",
    "schema",
    "answer",
    "question",
    "context",
    "citation",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "re",
    "su",
    "ta",
    "vo",
    "ne",
    "pi",
    "da",
    "fu",
    "go",
    "ri",
    "sa",
    "te",
    "zu",
    "ba",
    "ke",
]


def vocabulary(n: int, rng: random.Random) -> list[str]:
    """Real domain words first, then pronounceable made-up words: a corpus of ``n`` words."""
    words = list(dict.fromkeys(BASE_WORDS))
    while len(words) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in words:
            words.append(w)
    return words


class Zipf:
    """Word frequencies as in natural text: the k-th most common word ~ 1/k^1.1."""

    def __init__(self, words: list[str], rng: random.Random) -> None:
        self.words = words
        self.rng = rng
        self.cum = list(itertools.accumulate(1 / (k + 1) ** 1.1 for k in range(len(words))))

    def sample(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)


FOLDERS = ["support", "billing", "marketing", "search", "agents", "eval", "sales", "legal"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def make_bundle(n_prompts: int, n_versions: int, rng: random.Random, zipf: Zipf) -> Bundle:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prompts = []
    for i in range(n_prompts):
        name = f"{FOLDERS[i % len(FOLDERS)]}/{zipf.sample(1)[0]}-{i:05d}"
        body = zipf.sample(60)
        versions: list[BundleVersion] = []
        for j in range(n_versions):
            # Each version edits a few words of its parent, as authors do.
            for _ in range(3):
                body[rng.randrange(len(body))] = zipf.sample(1)[0]
            words = " ".join(body)
            content = PromptContent(
                messages=(
                    Message(role="system", template=f"You are an assistant. {words}"),
                    Message(role="user", template="{{ question }} about {{ topic }}"),
                ),
                model=ModelDefaults(model="gpt-4o-mini", temperature=round(rng.random(), 2)),
                variables=(Variable(name="question"), Variable(name="topic")),
                tags=(zipf.sample(1)[0], FOLDERS[i % len(FOLDERS)]),
            )
            versions.append(
                BundleVersion(
                    id=uuid.uuid4(),
                    content=content,
                    content_hash=content.content_hash(),
                    message=f"{' '.join(zipf.sample(3))} v{j + 1}",
                    author=rng.choice(["ada", "grace", "linus"]),
                    created_at=start + timedelta(minutes=i * n_versions + j),
                    parent_ids=[versions[-1].id] if versions else [],
                    number=j + 1,
                )
            )
        prompts.append(BundlePrompt(name=name, created_at=start, versions=versions))
    return Bundle(exported_at=start, prompts=prompts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--versions", type=int, default=20)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--vocabulary", type=int, default=5000, help="distinct words in the corpus")
    ap.add_argument("--keep", type=Path, help="keep the vault at this path")
    args = ap.parse_args()
    rng = random.Random(7)
    zipf = Zipf(vocabulary(args.vocabulary, rng), rng)

    workdir = Path(tempfile.mkdtemp(prefix="vault-scale-"))
    path = args.keep or workdir / "vault.sqlite3"
    t0 = time.perf_counter()
    bundle = make_bundle(args.prompts, args.versions, rng, zipf)
    t1 = time.perf_counter()
    with Vault.open(path, create=True, actor="bench") as vault:
        vault.import_bundle(bundle)
    t2 = time.perf_counter()
    n = args.prompts * args.versions
    print(f"vault: {args.prompts:,} prompts x {args.versions} versions = {n:,} versions")
    print(f"  build bundle in memory          {t1 - t0:8.2f} s")
    print(f"  import (one transaction)        {t2 - t1:8.2f} s  ({n / (t2 - t1):,.0f} versions/s)")
    print(f"  file size                       {path.stat().st_size / 1e6:8.1f} MB")

    # Cold-ish open: a new engine, schema check, first page of the listing.
    opens = []
    for _ in range(5):
        t = time.perf_counter()
        with Vault.open(path) as vault:
            page = vault.list_prompts(limit=100)
            total = vault.count_prompts()
        opens.append((time.perf_counter() - t) * 1000)
    assert len(page) == 100
    assert total == args.prompts
    print(
        f"  open + first page (100 rows)    {statistics.median(opens):8.1f} ms median of 5 "
        f"(first {opens[0]:.1f} ms)  target <= 300 ms"
    )

    with Vault.open(path, actor="bench") as vault:
        t = time.perf_counter()
        names = vault.prompt_names()
        print(
            f"  all {len(names):,} names (tree)        {(time.perf_counter() - t) * 1000:8.1f} ms"
        )
        # What people type: one to three words, drawn like the text itself (Zipf), and
        # short prefixes; then the worst case, a word in nearly every prompt.
        queries = [" ".join(zipf.sample(rng.choice([1, 1, 2, 3]))) for _ in range(args.queries)]
        queries += [w[:3] for w in rng.sample(zipf.words[:500], 20)]
        times: list[float] = []
        hits = 0
        for q in queries:
            t = time.perf_counter()
            hits += len(vault.search(q))
            times.append((time.perf_counter() - t) * 1000)
        print(
            f"  FTS ({len(queries)} queries, {hits} hits)   p50 {pct(times, 50):6.1f} ms  "
            f"p95 {pct(times, 95):6.1f} ms  max {max(times):6.1f} ms  target p95 <= 30 ms"
        )
        worst = []
        for q in ("you", "assistant", "an assistant"):
            t = time.perf_counter()
            n_hits = len(vault.search(q))
            worst.append((time.perf_counter() - t) * 1000)
        print(
            f"  FTS worst case (word in every prompt, {n_hits} shown)  "
            f"{statistics.median(worst):6.1f} ms"
        )
        target = names[len(names) // 2]
        base = vault.get_version(target)
        commits = []
        for i in range(30):
            content = base.content.model_copy(
                update={"messages": (Message(role="system", template=f"edit {i} {{{{ topic }}}}"),)}
            )
            t = time.perf_counter()
            vault.commit(target, PromptContent.model_validate(content.model_dump()), f"edit {i}")
            commits.append((time.perf_counter() - t) * 1000)
        print(
            f"  commit one version (30 runs)    p50 {pct(commits, 50):6.1f} ms  "
            f"p95 {pct(commits, 95):6.1f} ms  target <= 10 ms"
        )
        t = time.perf_counter()
        hist = vault.history(target)
        print(
            f"  history of one prompt ({len(hist)})    {(time.perf_counter() - t) * 1000:8.1f} ms"
        )


if __name__ == "__main__":
    main()
