"""The evidence a review carries names what it covers: the version's content hash, the
suite its run ran, its models and cases; the client's check is the registry's rule.

Runs are made by the real engine with its built-in echo model."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.app.topic_prompt import ECHO, commit_topic_prompt
from workbench.app.evidence import (
    ReviewedSuite,
    find_evidence,
    review_evidence,
    run_evidence,
)
from workbench.core.assertions import Assertion
from workbench.core.errors import UsageError
from workbench.core.models import PromptVersion
from workbench.core.runs import RunSpec, TestCase
from workbench.core.suites import suite_hash
from workbench.engine.runner import Engine
from workbench.registry.schemas import FolderPolicy
from workbench.vault import Vault

OWLS = Assertion(type="contains", value="owls")
SUITE = (
    TestCase(name="owls", values={"topic": "owls"}, assertions=(OWLS,)),
    TestCase(name="moss", values={"topic": "moss"}),
)


def _run(vault: Vault, version: PromptVersion, cases: tuple[TestCase, ...]) -> str:
    spec = RunSpec(prompt="p", version_ids=(version.id,), models=(ECHO,), cases=cases)
    return str(asyncio.run(Engine(vault, {}).run(spec)).id)


def test_the_summary_names_the_version_suite_models_and_cases(vault: Vault) -> None:
    version = commit_topic_prompt(vault, "About {{ topic }}")
    run_id = _run(vault, version, SUITE)
    chosen = find_evidence(vault, version).chosen
    assert chosen is not None
    sent = chosen.to_eval()
    assert sent.run_id == run_id
    assert sent.content_hash == version.content_hash
    assert sent.suite_hash == suite_hash(SUITE)
    assert (sent.finished, sent.models, sent.cases_run) == (True, ("echo:echo",), 2)
    assert (sent.passed, sent.failed) == (2, 0)
    reviewed = ReviewedSuite(suite_hash(SUITE), 2, FolderPolicy(required_models=("echo:echo",)))
    assert review_evidence(find_evidence(vault, version), version, suite=reviewed) == sent


def test_a_run_of_part_of_the_suite_or_another_model_is_not_attached(vault: Vault) -> None:
    version = commit_topic_prompt(vault, "About {{ topic }}")
    part = _run(vault, version, SUITE[:1])
    reviewed = ReviewedSuite(suite_hash(SUITE), 2)
    report = find_evidence(vault, version)
    # Chosen by default: not attached (an approval without evidence), said when asked.
    assert review_evidence(report, version, suite=reviewed) is None
    with pytest.raises(UsageError, match="ran 1 of the suite's 2 cases"):
        review_evidence(report, version, suite=reviewed, required=True)
    with pytest.raises(UsageError, match="ran 1 of the suite's 2 cases"):
        review_evidence(
            report, version, suite=reviewed, chosen=run_evidence(vault, version, part[:8])
        )
    _run(vault, version, SUITE)
    strict = ReviewedSuite(suite_hash(SUITE), 2, FolderPolicy(required_models=("oa:gpt-4o",)))
    with pytest.raises(UsageError, match="did not run on oa:gpt-4o"):
        review_evidence(find_evidence(vault, version), version, suite=strict, required=True)
    with pytest.raises(UsageError, match="no run 'ffff'"):
        run_evidence(vault, version, "ffff")
