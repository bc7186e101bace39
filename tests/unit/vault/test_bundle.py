from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import BundleError, ConflictError, HashMismatchError, InputError
from workbench.vault import Vault
from workbench.vault.bundle import parse_bundle

from .conftest import make_content


def _export(vault: Vault) -> bytes:
    return vault.export_bundle().model_dump_json().encode()


def test_round_trip(vault: Vault, tmp_path: Path) -> None:
    v1 = vault.commit("a/b", make_content(tags=("x",)), "1")
    v2 = vault.commit("a/b", make_content(system="2 {{ customer }}"), "2")
    vault.move_label("a/b", "production", v1.id)
    raw = _export(vault)
    with Vault.open(tmp_path / "copy.sqlite3", create=True) as other:
        report = other.import_bundle(parse_bundle(raw))
        assert (report.prompts_created, report.versions_added, report.labels_set) == (1, 2, 1)
        assert other.history("a/b") == [v1, v2]
        assert other.labels("a/b")[0].version_id == v1.id
        again = other.import_bundle(parse_bundle(raw))
        assert (again.versions_added, again.versions_skipped) == (0, 2)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"", "empty"),
        (b'{"format": "prompt-workbench-bundle", "version": 1, "prompts": [', "truncated"),
        (b'{"hello": 1}', "not a Prompt Workbench bundle"),
        (b'{"format": "prompt-workbench-bundle", "version": 99}', "bundle version 99"),
        (b'{"format": "prompt-workbench-bundle", "version": 1, "prompts": 3}', "shape"),
    ],
)
def test_bad_bundles(raw: bytes, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        parse_bundle(raw)


def test_truncated_export_refused(vault: Vault) -> None:
    vault.commit("a", make_content(), "1")
    raw = _export(vault)
    with pytest.raises(BundleError, match="truncated"):
        parse_bundle(raw[: len(raw) // 2])


def test_hash_mismatch_names_version_and_imports_nothing(vault: Vault, tmp_path: Path) -> None:
    good = vault.commit("good", make_content(), "1")
    bad = vault.commit("bad", make_content(), "1")
    data = json.loads(_export(vault))
    for p in data["prompts"]:
        if p["name"] == "bad":
            p["versions"][0]["content"]["messages"][0]["template"] = "tampered"
    with pytest.raises(HashMismatchError, match=str(bad.id)):
        parse_bundle(json.dumps(data).encode())
    assert good.id  # the good prompt is not imported on its own either
    with Vault.open(tmp_path / "c.sqlite3", create=True) as other:
        with pytest.raises(HashMismatchError):
            other.import_bundle(parse_bundle(json.dumps(data).encode()))
        assert other.prompt_names() == []


def test_same_id_other_content_refused_atomically(vault: Vault, tmp_path: Path) -> None:
    vault.commit("first", make_content(), "1")
    v = vault.commit("second", make_content(), "1")
    bundle = parse_bundle(_export(vault))
    with Vault.open(tmp_path / "c.sqlite3", create=True) as other:
        other.commit("second", make_content(system="other {{ customer }}"), "1")
        import sqlite3

        conn = sqlite3.connect(other.path)
        conn.execute("UPDATE versions SET id=?", (str(v.id),))
        conn.commit()
        conn.close()
        with pytest.raises(ConflictError, match="differs between this vault"):
            other.import_bundle(bundle)
        assert other.prompt_names() == ["second"]  # 'first' was rolled back too


def test_test_cases_travel_with_the_bundle_and_local_ones_win(vault: Vault, tmp_path: Path) -> None:
    from workbench.core.runs import TestCase

    vault.commit("a", make_content(), "1")
    vault.set_test_cases("a", [TestCase(name="x", values={"customer": "Ada", "question": "Hi"})])
    raw = _export(vault)
    with Vault.open(tmp_path / "c.sqlite3", create=True) as other:
        other.import_bundle(parse_bundle(raw))
        assert other.test_cases("a") == vault.test_cases("a")
        other.set_test_cases("a", [TestCase(name="mine", values={})])
        other.import_bundle(parse_bundle(raw))
        assert [c.name for c in other.test_cases("a")] == ["mine"]


def _names(vault: Vault) -> list[str]:
    return [p.name for p in vault.list_prompts()]


def test_a_version_under_another_prompt_name_is_refused_atomically(vault: Vault) -> None:
    """Issue 15, item 3: a bundle whose versions the vault holds under other names was
    "imported 0 versions (6 new prompts)", leaving prompts with no versions."""
    vault.commit("a/one", make_content(), "1")
    data = json.loads(_export(vault))
    data["prompts"][0]["name"] = "z/other"
    before = _names(vault)
    with pytest.raises(ConflictError, match=r"as a version of 'a/one'.*under 'z/other'"):
        vault.import_bundle(parse_bundle(json.dumps(data).encode()))
    assert _names(vault) == before  # no empty prompt left behind


def test_duplicate_version_ids_and_labels_on_nothing_are_clear_errors(
    vault: Vault, tmp_path: Path
) -> None:
    """Issue 15, item 5: both ended in the bug message."""
    vault.commit("a", make_content(), "1")
    data = json.loads(_export(vault))
    with Vault.open(tmp_path / "fresh.sqlite3", create=True) as other:
        twice = json.loads(json.dumps(data))
        twice["prompts"][0]["versions"].append(twice["prompts"][0]["versions"][0])
        with pytest.raises(InputError, match=r"holds version .* twice"):
            other.import_bundle(parse_bundle(json.dumps(twice).encode()))
        nowhere = json.loads(json.dumps(data))
        nowhere["prompts"][0]["labels"] = {"production": "00000000-0000-4000-8000-000000000000"}
        with pytest.raises(InputError, match="label 'production' of 'a' points at version"):
            other.import_bundle(parse_bundle(json.dumps(nowhere).encode()))
        assert _names(other) == []


def test_the_bundle_and_push_shapes_are_the_version_s_own_fields() -> None:
    """One version type: the bundle and wire shapes take its fields by name, so a field
    added to PromptVersion and to them cannot be dropped by a hand-written copy."""
    import uuid as _uuid

    from workbench.core.models import Message, PromptContent, PromptVersion
    from workbench.registry.schemas import VersionPush
    from workbench.vault.bundle import BundleVersion

    content = PromptContent(messages=(Message(role="user", template="Hi {{ name }}"),))
    parent = _uuid.uuid4()
    v = PromptVersion(
        prompt="support/reply", content=content, content_hash=content.content_hash(),
        message="first", author="ada", parent_ids=(parent,), number=4,
    )  # fmt: skip
    bundled = BundleVersion.of(v)
    assert bundled.model_dump() == {
        **v.model_dump(exclude={"prompt"}),
        "parent_ids": [parent],
    }
    pushed = VersionPush.of(v)
    assert pushed.model_dump() == {
        **v.model_dump(exclude={"number", "author"}),
        "author": None,
    }
