"""Property test over the whole CLI (issue 15): for generated bad input, arguments
and input files, no command prints the bug message or a traceback, and every exit
code is one of the contract's (0 ok, 1 checked thing failed, 2 input, 3 could not
run). Every command of the real parser is reached, found by walking it, so a command
added later is covered without editing this test."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.cli.home import make_home
from workbench.cli.main import build_parser, main

CONTRACT = {0, 1, 2, 3}
SKIP = {("registry", "serve")}
"""Starts a server that runs until stopped: not a command that ends by itself."""


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _commands(child, (*path, name))


COMMANDS = sorted((path, p) for path, p in _commands(build_parser()) if path not in SKIP and path)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_home(tmp_path, monkeypatch)
    monkeypatch.delenv("WORKBENCH_REGISTRY_TOKEN", raising=False)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    return tmp_path


FILE_BODIES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.sampled_from([
        "messages: [", "- name: x\n  values: [1\n", "{}", "[]", "name,question\n,\n",
        '{"format": "prompt-workbench-bundle", "version": 1, "prompts": [{}]}',
        "messages:\n  - role: wizard\n    content: hi\n", "\x00\x01", "a,b\n1,2,3\n",
    ]),
)  # fmt: skip
WORDS = st.one_of(
    st.sampled_from(["greet", "nope", "latest", "v1", "draft1", "echo:echo", "x:y", "-1",
                     "0", "1.5", "1e309", "", " ", "a/../b", "production", "file.in",
                     "missing.csv", ".", "--", "\x00", "é", "nan"]),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
)  # fmt: skip


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_gets_the_bug_message_or_an_odd_exit_code(home: Path, data: st.DataObject) -> None:
    path, parser = data.draw(st.sampled_from(COMMANDS), label="command")
    (home / "file.in").write_bytes(
        body if isinstance(body := data.draw(FILE_BODIES, label="file"), bytes) else body.encode()
    )
    options = _options(parser)
    tail = data.draw(
        st.lists(st.one_of(WORDS, st.sampled_from(options)) if options else WORDS, max_size=5),
        label="arguments",
    )
    argv = [*path, *tail]
    # Real text streams over bytes: commands that write bytes use sys.stdout.buffer.
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stdin = sys.stdin
    sys.stdin = io.StringIO("sk-not-a-real-key-but-long-enough\n")  # key set reads stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse: usage errors and --help
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdin = stdin
    text = b"".join(s.buffer.getvalue() for s in (out, err)).decode("utf-8", "replace")
    assert code in CONTRACT, (argv, code, text[-500:])
    assert "a bug in Prompt Workbench" not in text, (argv, text[-800:])
    assert "Traceback (most recent call last)" not in text, (argv, text[-800:])
    assert os.getcwd() == str(home)
