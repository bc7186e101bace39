"""Suites travel and approvals rest on evidence for them (a real registry under uvicorn).

An author changes only a case (no new version); the reviewer's sync brings the new
suite and `review show` says what changed since production was approved; evidence
from a run of part of the suite is refused (by the CLI first, by the server for a
client that sends it anyway); a complete passing run is accepted; and a
`--require-evidence` registry refuses to publish a version whose approval's evidence
ran an older suite than the prompt's current one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import TeamCli
from tests.server.conftest import RunningRegistry
from workbench.core.errors import InputError
from workbench.core.suites import suite_hash
from workbench.registry.schemas import FolderPolicy
from workbench.secrets.keyring_store import KeyringStore
from workbench.vault import Vault
from workbench.vault.suites import SuiteStore

PROMPT = 'messages:\n  - role: user\n    content: "Answer briefly: {{ question }}"\n'
PROMPT_2 = 'messages:\n  - role: user\n    content: "Answer in one line: {{ question }}"\n'
SUITE = (
    "- name: reset\n  question: How do I reset my password?\n  assert: {contains: password}\n"
    "- name: refund\n  question: Can I get a refund?\n  assert: {contains: refund}\n"
)
# Only the refund case changes (a new check); the prompt does not.
SUITE_2 = (
    "- name: reset\n  question: How do I reset my password?\n  assert: {contains: password}\n"
    "- name: refund\n  question: Can I get a refund?\n"
    "  assert: {contains: refund, max_chars: 400}\n"
)
ONE_CASE = "- name: reset\n  question: How do I reset my password?\n"


@pytest.mark.keychain
def test_a_changed_case_travels_and_approval_needs_evidence_on_the_current_suite(
    tmp_path: Path, team_cli: TeamCli, secret_service: KeyringStore
) -> None:
    reg, as_, run, ok = team_cli.reg, team_cli.as_, team_cli.run, team_cli.ok
    reg.service.suites.set_policy(FolderPolicy(required_models=("echo:echo",)))
    for name, text in {
        "p.yaml": PROMPT, "p2.yaml": PROMPT_2, "suite.yaml": SUITE,
        "suite2.yaml": SUITE_2, "one.yaml": ONE_CASE,
    }.items():  # fmt: skip
        (tmp_path / name).write_text(text)

    def eval_run(*extra: str) -> str:
        out = ok("eval", "faq", "--models", "echo:echo", "--json", *extra)
        run_id: str = json.loads(out)["run"]
        return run_id

    def bob_vault() -> Vault:
        return Vault.open(tmp_path / "bob" / "vault.sqlite3")

    # The author's first version and suite reach production with evidence.
    as_("alice")
    ok("commit", "faq", "-f", "p.yaml", "-m", "first")
    ok("cases", "set", "faq", "suite.yaml")
    sync = json.loads(ok("sync", "--json"))
    assert (sync["pushed_versions"], sync["pushed_suites"]) == (1, 1)
    as_("bob")
    sync = json.loads(ok("sync", "--json"))
    assert sync["pulled_suites"] == 1
    with bob_vault() as vault:  # the reviewer has the author's cases, brought by sync
        assert [c.name for c in vault.test_cases("faq")] == ["reset", "refund"]
        first_suite = SuiteStore(vault).registry_hash("faq")
    assert first_suite is not None
    [queued] = json.loads(ok("review", "list", "--json"))
    assert (queued["version"], queued["suite_hash"]) == (1, first_suite)
    eval_run()
    out = ok("review", "approve", "faq", "v1", "--evidence")
    assert f"suite {first_suite[:12]} (2 cases)" in out
    as_("carol")
    ok("publish", "faq", "--version", "1", "--reason", "launch")

    # v2 is approved on the first suite...
    as_("alice")
    ok("commit", "faq", "-f", "p2.yaml", "-m", "one line")
    ok("sync")
    as_("bob")
    ok("sync")
    eval_run("--versions", "v2")
    ok("review", "approve", "faq", "v2", "--evidence")

    # ...then the author changes only a case: no new version, a new suite.
    as_("alice")
    ok("cases", "set", "faq", "suite2.yaml")
    sync = json.loads(ok("sync", "--json"))
    assert (sync["pushed_versions"], sync["pushed_suites"]) == (0, 1)

    as_("bob")
    ok("sync")
    with bob_vault() as vault:
        second_suite = SuiteStore(vault).registry_hash("faq")
        assert second_suite == suite_hash(vault.test_cases("faq"))
    assert second_suite not in (None, first_suite)
    # v2's approval named the old suite: it is back in the queue.
    assert [r["version"] for r in json.loads(ok("review", "list", "--json"))] == [2]
    shown = json.loads(ok("review", "show", "faq", "v2", "--json"))
    assert shown["suite_hash"] == second_suite
    assert shown["approved_with_suite"] == first_suite  # production v1's approval
    assert (shown["added"], shown["removed"], shown["changed"]) == ([], [], ["refund"])
    text = ok("review", "show", "faq", "v2")
    assert f"vs suite {first_suite[:12]} that production (v1) was approved with" in text
    assert "~ refund" in text

    # The approval of v2 ran the first suite: this registry refuses to publish it.
    as_("carol")
    code, _, err = run("publish", "faq", "--version", "2", "--reason", "one line")
    assert code == 2
    assert "older than the prompt's current suite" in err
    assert "workbench eval faq" in err

    # Evidence from a run of part of the suite: the CLI refuses to attach it...
    as_("bob")
    partial = eval_run("--versions", "v2", "--cases", "one.yaml")
    code, _, err = run("review", "approve", "faq", "v2", "--run", partial)
    assert code == 2
    assert "ran 1 of the suite's 2 cases" in err
    # ...and so does the server, for a client that sends it anyway.
    from workbench.app.evidence import run_evidence

    with bob_vault() as vault:
        v2 = vault.get_version("faq", "v2")
        sent = run_evidence(vault, v2, partial).to_eval()
    with pytest.raises(InputError, match="ran 1 of the suite's 2 cases"):
        reg.client("bob").review(
            v2.id, decision="approve", content_hash=v2.content_hash,
            suite_hash=second_suite, evidence=sent,
        )  # fmt: skip
    assert all(r.suite_hash != second_suite for r in reg.client("bob").reviews(v2.id))

    # A complete passing run on the current suite is accepted, and v2 publishes.
    full = eval_run("--versions", "v2")
    out = ok("review", "approve", "faq", "v2", "--run", full, "--json")
    decided = json.loads(out)
    assert decided["suite_hash"] == second_suite
    assert decided["evidence"]["run_id"] == full
    assert decided["evidence"]["cases_run"] == 2
    assert decided["evidence"]["models"] == ["echo:echo"]
    [approval] = [r for r in reg.client("bob").reviews(v2.id) if r.suite_hash == second_suite]
    assert approval.evidence is not None and approval.evidence.suite_hash == second_suite
    as_("carol")
    out = ok("publish", "faq", "--version", "2", "--reason", "one line")
    assert f"suite {second_suite[:12]} (2 cases)" in out


def test_two_authors_changing_cases_never_overwrite_in_silence(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    from workbench.core.models import Message, PromptContent
    from workbench.core.runs import TestCase
    from workbench.registry.sync import Syncer

    content = PromptContent(messages=(Message(role="user", template="{{ q }}"),))
    first = (TestCase(name="a", values={"q": "1"}),)
    theirs = (*first, TestCase(name="b", values={"q": "2"}))
    mine = (*first, TestCase(name="c", values={"q": "3"}))
    with (
        Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice") as alice,
        Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob,
    ):
        alice.commit("faq", content, "1")
        alice.set_test_cases("faq", first)
        Syncer(alice, registry.client("alice")).sync()
        Syncer(bob, registry.client("bob")).sync()
        alice.set_test_cases("faq", theirs)
        assert Syncer(alice, registry.client("alice")).sync().pushed_suites == 1
        bob.set_test_cases("faq", mine)  # offline, from the first suite
        report = Syncer(bob, registry.client("bob")).sync()
        assert report.pushed_suites == 0
        [refused] = report.rejected
        assert "suite of faq" in refused and "changed in the registry" in refused
        assert report.kept_local_cases == ["faq"]
        assert "kept yours" in report.summary()
        assert bob.test_cases("faq") == list(mine)  # his work is not lost
        assert SuiteStore(bob).suite(suite_hash(theirs)) == list(theirs)  # theirs is there
        assert registry.client("bob").suite("faq").suite_hash == suite_hash(theirs)
