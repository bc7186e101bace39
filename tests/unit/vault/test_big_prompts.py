"""Size bounds (issue 15, item 4): a prompt over the bound is refused at once with what
to do; a long prompt is indexed up to a page of text plus its distinct words, so it
stays findable, and a search that finds it does not scan all of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from workbench.cli.main import main
from workbench.core.errors import InputError
from workbench.core.limits import MAX_PROMPT_CHARS, MAX_PROMPT_FILE_BYTES
from workbench.core.models import Message, PromptContent
from workbench.vault import Vault
from workbench.vault.search import INDEXED_TEMPLATE_CHARS

from .conftest import make_content


def _prompt(body: str) -> PromptContent:
    return PromptContent(messages=(Message(role="system", template=body),))


def test_a_prompt_over_the_bound_is_refused_naming_the_sizes(vault: Vault) -> None:
    too_big = _prompt("x" * (MAX_PROMPT_CHARS + 1))
    with pytest.raises(InputError, match=r"the prompt is 2,000,001 characters; at most") as err:
        vault.commit("big", too_big, "too big")
    assert "variable's value" in err.value.hint
    assert vault.prompt_names() == []
    vault.commit("big", _prompt("y" * (MAX_PROMPT_CHARS - 10)), "just fits")


def test_a_huge_prompt_file_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:  # sparse: the size is what is checked, not the bytes
        fh.truncate(MAX_PROMPT_FILE_BYTES + 1)
    code = main(["commit", "p", "-f", str(huge), "-m", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "too big to be a prompt" in err and "a bug" not in err


def test_a_long_prompt_is_indexed_a_page_deep_and_found_by_any_word(vault: Vault) -> None:
    body = " ".join(["refund"] * 150_000) + " zebracorn"  # the old worst case, ~1 MB
    vault.commit("long/one", _prompt(body), "long")
    vault.commit("short/one", make_content(system="refund policy"), "short")
    with vault.reading() as s:
        sizes = s.execute(text("SELECT prompt, length(templates) FROM search_index")).all()
    assert {prompt: length for prompt, length in sizes}["long/one"] <= INDEXED_TEMPLATE_CHARS
    assert {h.prompt for h in vault.search("refund")} == {"long/one", "short/one"}
    assert [h.prompt for h in vault.search("zebracorn")] == ["long/one"]  # past the page
