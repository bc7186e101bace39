from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry, running_registry
from workbench.cli.main import main
from workbench.registry.server.config import RegistrySettings


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with running_registry(settings) as reg:
        yield reg


@pytest.fixture
def strict_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    """A registry that requires passing eval evidence before a protected publish."""
    settings = RegistrySettings(
        db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}", require_eval_evidence=True
    )
    with running_registry(settings) as reg:
        yield reg


class TeamCli:
    """The ``workbench`` CLI as several people of one registry run it: each person has
    their own data directory (vault, settings) and logs in with their own token."""

    def __init__(
        self,
        reg: RunningRegistry,
        root: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.reg, self.root, self._mp, self._capsys = reg, root, monkeypatch, capsys

    def as_(self, who: str) -> None:
        """Become ``who``: their data directory, author name, and a registry login."""
        self._mp.setenv("WORKBENCH_DATA_DIR", str(self.root / who))
        self._mp.setenv("WORKBENCH_AUTHOR", who)
        self._mp.setattr("sys.stdin", io.StringIO(self.reg.tokens[who] + "\n"))
        assert self.run("registry", "login", self.reg.url)[0] == 0

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self._capsys.readouterr()
        return code, out, err

    def ok(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, err
        return out


@pytest.fixture
def team_cli(
    tmp_path: Path,
    strict_registry: RunningRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> TeamCli:
    """The CLI in ``tmp_path`` against ``strict_registry`` (the default vault per person)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    return TeamCli(strict_registry, tmp_path, monkeypatch, capsys)
