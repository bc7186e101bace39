from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.secrets.keyring_store import KeyringStore


def _doctor(
    capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, dict[str, str]]]:
    code = main(["doctor", "--json", *extra])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    return code, checks


@pytest.mark.keychain
def test_doctor_on_a_ready_machine(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    secret_service: KeyringStore,
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    main(["provider", "add", "oa", "--family", "openai", "--key-name", "oa-key"])
    capsys.readouterr()
    code, checks = _doctor(capsys)
    assert code == 0
    assert checks["vault"]["status"] == "warn"  # none yet: doctor looks, creates nothing
    assert not (tmp_path / "vault.sqlite3").exists()
    main(["vault", "init"])
    capsys.readouterr()
    code, checks = _doctor(capsys)
    assert code == 0
    assert checks["vault"]["status"] == "ok"
    assert checks["keychain"]["status"] == "ok"
    assert checks["provider oa"]["status"] == "warn"
    assert "key set oa-key" in checks["provider oa"]["hint"]
    secret_service.set("oa-key", "sk-doctor-test-0123456789")
    code, checks = _doctor(capsys)
    assert checks["provider oa"]["status"] == "ok"
    assert "sk-doctor" not in json.dumps(checks)


def test_doctor_fails_on_a_file_that_is_not_a_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    (tmp_path / "notes.txt").write_text("hello")
    code, checks = _doctor(capsys, "--vault", str(tmp_path / "notes.txt"))
    assert code == 1
    assert checks["vault"]["status"] == "fail"
    assert "not a Prompt Workbench vault" in checks["vault"]["detail"]
