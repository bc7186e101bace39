"""Sensitive variables: their values reach the model and no file the app writes (the
vault and its WAL, the run log, the cache, exports, the log's JSON lines, the
settings), through the CLI as a person runs it. (That version hashes made before the
field existed do not change is in tests/unit/core/test_content_hash.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run

SSN = "123-45-6789"
PROMPT = """\
messages:
  - role: system
    content: "Verify the customer. Their SSN is {{ ssn }}."
  - role: user
    content: "{{ question }}"
variables:
  ssn: {sensitivity: sensitive, description: the customer's SSN}
  question: {}
"""


def test_a_sensitive_value_reaches_the_model_and_no_file(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (env / "s.yaml").write_text(PROMPT)
    (env / "cases.csv").write_text(
        f"name,ssn,question,assert:contains\na,{SSN},Is it mine?,{{{{ ssn }}}}\n"
    )
    assert run(capsys, "commit", "kyc", "-f", "s.yaml", "-m", "1")[0] == 0
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    # The test server answers with the last user message; make it repeat the SSN too.
    server.script("gpt-4o-mini", text=f"Your SSN {SSN} is verified.")
    outputs = []
    for extra in ([], ["--cache"], ["--cache"]):
        code, out, err = run(capsys, "compare", "kyc", "--models", "oa:gpt-4o-mini,echo:echo",
                             "--cases", "cases.csv", "--json", *extra)  # fmt: skip
        assert code in (0, 1), err
        outputs.append(out)
    # The model was sent the value in clear.
    sent = [r for r in server.requests_for("gpt-4o-mini")]
    assert sent and SSN in str(sent[0])
    for argv in (["log", "--jsonl"], ["runs", "list"], ["costs", "--by", "prompt", "--csv"]):
        outputs.append(run(capsys, *argv)[1])
    run_id = outputs[0].split('"id": "')[1].split('"')[0]
    outputs.append(run(capsys, "runs", "show", run_id, "--csv")[1])
    outputs.append(run(capsys, "runs", "show", run_id, "--json")[1])
    for text in outputs:
        assert SSN not in text
    assert "[sensitive: ssn]" in outputs[0] and '"ssn": "[sensitive]"' in outputs[3]
    # Every file the app wrote (the vault, its WAL and journal, settings, caches).
    written = [p for p in env.rglob("*") if p.is_file() and p.name not in ("cases.csv",)]
    assert any(p.suffix == ".sqlite3" for p in written)
    for path in written:
        assert SSN.encode() not in path.read_bytes(), path
