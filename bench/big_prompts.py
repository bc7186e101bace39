"""Big prompts beside ordinary ones (issue 15, item 4): commit and search stay bounded.

A vault of 10,000 ordinary prompts plus ten 1 MB prompts (nine of Zipf-distributed
words, one of a single word repeated: the old worst case for search). Commits are
timed as a person runs them, a whole ``workbench commit`` process, interleaved in the
same rounds with the commit of an ordinary 1 KB prompt (the baseline); searches are
timed in process (the query itself) and as a whole ``workbench vault search`` process
beside the same search on the vault without the big prompts. Prints figures, asserts
nothing. Targets: search p95 <= 50 ms; commit of a 1 MB prompt <= 1 s.

    .venv/bin/python bench/big_prompts.py [--prompts 10000] [--rounds 5] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vault_scale import Zipf, make_bundle, pct, vocabulary
from workbench.vault import Vault

BIG_CHARS = 1_000_000


def prompt_file(path: Path, words: list[str]) -> Path:
    body = " ".join(words)
    path.write_text(
        "messages:\n  - role: system\n    content: |\n      "
        + body
        + "\n  - role: user\n    content: '{{ question }}'\n",
        encoding="utf-8",
    )
    return path


def words_of(zipf: Zipf, chars: int) -> list[str]:
    out: list[str] = []
    size = 0
    while size < chars:
        w = zipf.sample(200)
        out.extend(w)
        size += sum(len(x) + 1 for x in w)
    return out


def run(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(11)
    words = vocabulary(5000, rng)
    zipf = Zipf(words, rng)
    work = Path(tempfile.mkdtemp(prefix="big-prompts-"))
    plain, big = work / "plain.sqlite3", work / "big.sqlite3"
    with Vault.open(plain, create=True, actor="bench") as vault:
        vault.import_bundle(make_bundle(args.prompts, 1, rng, zipf))
    shutil.copy(plain, big)
    exe = str(Path(sys.executable).with_name("workbench"))
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(work / "data")}

    files = [prompt_file(work / f"big{i}.yaml", words_of(zipf, BIG_CHARS)) for i in range(9)]
    files.append(prompt_file(work / "same.yaml", ["refund"] * (BIG_CHARS // 7)))
    small = prompt_file(work / "small.yaml", words_of(zipf, 1_000))
    big_s: list[float] = []
    small_s: list[float] = []
    for i, f in enumerate(files):  # each round: one big commit, one ordinary one
        big_s.append(run([exe, "--vault", str(big), "commit", f"huge/p{i}", "-f", str(f),
                          "-m", "big"], env))  # fmt: skip
        small_s.append(run([exe, "--vault", str(plain), "commit", f"small/p{i}", "-f",
                            str(small), "-m", f"small {i}"], env))  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f}; {args.prompts:,} ordinary prompts")
    print(
        f"commit, whole process: 1 MB prompt median {statistics.median(big_s):.2f} s "
        f"(max {max(big_s):.2f}); 1 KB prompt median {statistics.median(small_s):.2f} s; "
        f"ratio {statistics.median(big_s) / statistics.median(small_s):.2f}x  target <= 1 s"
    )

    queries = [" ".join(zipf.sample(rng.choice((1, 1, 2)))) for _ in range(args.queries)]
    queries += ["refund", "refund policy", "zzzz", "a"]
    timings: dict[str, list[float]] = {"plain": [], "big": []}
    for q in queries:  # the two vaults alternate, query by query
        for name, path in (("plain", plain), ("big", big)):
            with Vault.open(path) as vault:
                t = time.perf_counter()
                vault.search(q, limit=20)
                timings[name].append((time.perf_counter() - t) * 1000)
    for name, values in timings.items():
        print(
            f"search in process, {name:5} vault: p50 {statistics.median(values):.1f} ms, "
            f"p95 {pct(values, 95):.1f} ms, max {max(values):.1f} ms "
            f"({len(values)} queries)  target p95 <= 50 ms"
        )
    whole: dict[str, list[float]] = {"plain": [], "big": []}
    for _ in range(args.rounds):
        for name, path in (("plain", plain), ("big", big)):
            whole[name].append(run([exe, "--vault", str(path), "vault", "search", "refund"], env))
    p, b = statistics.median(whole["plain"]), statistics.median(whole["big"])
    print(
        f"`workbench vault search refund`, whole process, median of {args.rounds}: "
        f"plain {p:.2f} s, with the big prompts {b:.2f} s ({b / p:.2f}x)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
