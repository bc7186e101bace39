"""A person's working folder for CLI tests: their own data directory (so no real vault
or settings are touched), a prompt file ``p.yaml`` in the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.cli.main import main

GREET_PROMPT = """\
messages:
  - role: user
    content: "Hello {{ name }}"
variables:
  name: {default: Ada}
"""


def make_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the current directory and data directory, with ``p.yaml``."""
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(GREET_PROMPT)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``workbench ARGV``: its exit code, standard output and standard error."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def add_openai_profile(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: ProviderServer,
    *prices: str,
) -> None:
    """Profile ``oa``: the provider server's OpenAI family, its key in ``OA_KEY``, a
    ``--price MODEL=IN,OUT`` for each of ``prices``."""
    monkeypatch.setenv("OA_KEY", DEFAULT_KEY)
    argv = ["provider", "add", "oa", "--family", "openai", "--base-url",
            server.base_url("openai"), "--key-env", "OA_KEY"]  # fmt: skip
    for price in prices:
        argv += ["--price", price]
    code, out, err = run(capsys, *argv)
    assert code == 0, (out, err)
