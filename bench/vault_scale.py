"""Vault at scale: 10,000 prompts x 20 versions (200,000 versions).

Prints figures, asserts nothing. Targets (issue 2): open + first page <= 300 ms,
FTS p95 <= 30 ms, commit one version <= 10 ms.

    .venv/bin/python bench/vault_scale.py [--prompts 10000] [--versions 20] [--keep PATH]
"""

from __future__ import annotations

import argparse
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

WORDS = ["refund", "order", "shipping", "invoice", "greeting", "summary", "translate", "classify", "extract", "sentiment", "apology", "escalate", "policy", "warranty", "return", "exchange", "billing", "account", "password", "reset", "onboarding", "newsletter", "headline", "product", "review", "support", "triage", "priority", "customer", "tone", "formal", "friendly", "concise", "detailed", "bullet", "json", "schema", "answer", "question", "context", "citation"]
FOLDERS = ["support", "billing", "marketing", "search", "agents", "eval", "sales", "legal"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def make_bundle(n_prompts: int, n_versions: int, rng: random.Random) -> Bundle:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prompts = []
    for i in range(n_prompts):
        name = f"{FOLDERS[i % len(FOLDERS)]}/{rng.choice(WORDS)}-{i:05d}"
        versions: list[BundleVersion] = []
        for j in range(n_versions):
            words = " ".join(rng.choice(WORDS) for _ in range(30))
            content = PromptContent(
                messages=(
                    Message(role="system", template=f"You are {rng.choice(WORDS)}. {words}"),
                    Message(role="user", template="{{ question }} about {{ topic }}"),
                ),
                model=ModelDefaults(model="gpt-4o-mini", temperature=round(rng.random(), 2)),
                variables=(Variable(name="question"), Variable(name="topic")),
                tags=(rng.choice(WORDS), FOLDERS[i % len(FOLDERS)]),
            )
            versions.append(
                BundleVersion(
                    id=uuid.uuid4(),
                    content=content,
                    content_hash=content.content_hash(),
                    message=f"{rng.choice(WORDS)} {rng.choice(WORDS)} v{j + 1}",
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
    ap.add_argument("--keep", type=Path, help="keep the vault at this path")
    args = ap.parse_args()
    rng = random.Random(7)

    workdir = Path(tempfile.mkdtemp(prefix="vault-scale-"))
    path = args.keep or workdir / "vault.sqlite3"
    t0 = time.perf_counter()
    bundle = make_bundle(args.prompts, args.versions, rng)
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
    print(f"  open + first page (100 rows)    {statistics.median(opens):8.1f} ms median of 5 "
          f"(first {opens[0]:.1f} ms)  target <= 300 ms")

    with Vault.open(path, actor="bench") as vault:
        t = time.perf_counter()
        names = vault.prompt_names()
        print(f"  all {len(names):,} names (tree)        {(time.perf_counter() - t) * 1000:8.1f} ms")
        times = []
        queries = [" ".join(rng.sample(WORDS, k=rng.choice([1, 1, 2, 2, 3]))) for _ in
                   range(args.queries)]
        queries += [w[:3] for w in rng.sample(WORDS, 20)]  # short prefixes: the worst case
        hits = 0
        for q in queries:
            t = time.perf_counter()
            hits += len(vault.search(q))
            times.append((time.perf_counter() - t) * 1000)
        print(f"  FTS ({len(queries)} queries)             p50 {pct(times, 50):6.1f} ms  "
              f"p95 {pct(times, 95):6.1f} ms  max {max(times):6.1f} ms  target p95 <= 30 ms")
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
        print(f"  commit one version (30 runs)    p50 {pct(commits, 50):6.1f} ms  "
              f"p95 {pct(commits, 95):6.1f} ms  target <= 10 ms")
        t = time.perf_counter()
        hist = vault.history(target)
        print(f"  history of one prompt ({len(hist)})    {(time.perf_counter() - t) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
