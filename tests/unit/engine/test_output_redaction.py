"""Issue 12 item 6: a provider that echoes the API key in a *successful* answer.

The key must reach no file the run writes (the vault, its WAL, the response cache
inside it) and no export (``compare --json/--csv``, ``runs show --csv``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.cli.compare_cmds import cells_csv, run_json
from workbench.core.runs import ModelRef, RunSpec, TestCase
from workbench.engine.runner import Engine
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.redaction import REDACTED, redact_output
from workbench.vault import Vault
from workbench.vault.runs import RunStore

from .conftest import content


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_an_echoed_key_is_in_no_file_and_no_export(
    vault: Vault, provider_server: ProviderServer, tmp_path: Path
) -> None:
    version = vault.commit("p", content(), "v1")
    # Streamed in 5 pieces, so the key arrives split across deltas.
    provider_server.script("gpt-4o-mini", text=f"Sure. Your key is {DEFAULT_KEY} - ok?", chunks=5)
    profile = ProviderProfile(
        name="oa", family="openai", base_url=provider_server.base_url("openai"), key_name="k"
    )
    engine = Engine(vault, {"oa": profile}, keys=lambda _p: DEFAULT_KEY)
    spec = RunSpec(
        prompt="p",
        version_ids=(version.id,),
        models=(ModelRef.parse("oa:gpt-4o-mini"),),
        cases=(TestCase(name="a", values={"topic": "tea"}),),
        repeats=2,
    )
    run = asyncio.run(engine.run(spec))
    assert all(c.ok for c in run.cells), [c.error for c in run.cells]
    assert [c.output for c in run.cells] == [f"Sure. Your key is {REDACTED} - ok?"] * 2
    # The cached answer (a second run) and the stored run are redacted too.
    again = asyncio.run(engine.run(spec.model_copy(update={"use_cache": True})))
    assert all(c.cached for c in again.cells)
    stored = RunStore(vault).load(run.id)
    labels = {version.id: "v1"}
    exports = [
        cells_csv(stored, labels),
        json.dumps(run_json(stored, labels)),
        cells_csv(RunStore(vault).load(again.id), labels),
    ]
    for text in exports:
        assert DEFAULT_KEY not in text
        assert REDACTED in text
    vault.close()
    written = _files_under(tmp_path)
    assert written  # the vault files are really there
    for path in written:
        assert DEFAULT_KEY.encode() not in path.read_bytes(), path


def test_redact_output_hides_known_values_only() -> None:
    shaped = "sk-proj-" + "abcdefghijklmnop1234567890"  # key-shaped, never registered
    assert redact_output(f"example: {shaped}") == f"example: {shaped}"
    assert redact_output("the key k-9f8e7d6c5b here", "k-9f8e7d6c5b") == f"the key {REDACTED} here"
    assert redact_output("short abc stays", "abc") == "short abc stays"
    assert redact_output("") == ""
