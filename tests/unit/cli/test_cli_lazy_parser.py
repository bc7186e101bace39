"""A command's run builds only its own module's parser; the map that decides it
must name exactly what each module adds, or a command would vanish from its run."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from workbench.cli.main import COMMAND_MODULES, COMMANDS, build_parser, command_in, common_options


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_the_map_names_what_each_module_adds(module: str) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(module).add_parser(sub, common_options())
    assert sorted(sub.choices) == sorted(c for c, m in COMMANDS.items() if m == module)


def test_the_whole_parser_has_every_command() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["commit", "a/b", "--file", "x"], "commit"),
        (["-v", "vault", "list"], "vault"),
        (["--vault", "compare", "runs", "list"], "runs"),  # a vault file named 'compare'
        (["--vault=v.sqlite3", "eval", "x"], "eval"),
        (["--", "doctor"], "doctor"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_past_global_options(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_a_commit_imports_no_other_command_module() -> None:
    probe = "import sys\nfrom workbench.cli.main import main\n" + (
        "try:\n    main(['commit', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('workbench.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1]
    assert "vault_cmds" in loaded
    for other in ("compare_cmds", "provider_cmds", "runs_cmds", "registry_cmds", "sync_cmds"):
        assert other not in loaded


def test_an_unknown_command_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["comit"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "'commit'" in err and "'labels'" in err
