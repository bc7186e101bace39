"""``workbench vault ...``: the local vault from the shell (``commit``, ``lint`` and
``doctor`` are in :mod:`workbench.cli.authoring_cmds`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import EXIT_FAILURE, EXIT_OK, emit, table
from workbench.core.errors import UsageError
from workbench.core.files import write_atomic
from workbench.core.paths import default_vault_path

if TYPE_CHECKING:
    from workbench.core.models import PromptVersion
    from workbench.vault import Vault
    from workbench.vault.direct import DirectVault

# SQLAlchemy, YAML and the vault load inside the handlers: `workbench --help` and the
# argument parser stay fast, and every command pays only for what it uses.

Sub = Any  # argparse's _SubParsersAction is private; keep the annotation honest but loose


def vault_path(args: argparse.Namespace) -> Path:
    return Path(args.vault).expanduser() if args.vault else default_vault_path()


def open_vault(args: argparse.Namespace) -> Vault:
    """The vault named by ``--vault``; the default one is created on first use."""
    from workbench.vault import Vault

    explicit = args.vault is not None or "WORKBENCH_VAULT" in os.environ
    return Vault.open(vault_path(args), create=not explicit)


def open_run_vault(args: argparse.Namespace) -> Vault | DirectVault:
    """The vault for a run (``compare``, ``eval``): the plain-SQL one when the file is
    at this release's schema, so a run does not wait on SQLAlchemy's import; else the
    full vault, which creates, migrates or refuses it."""
    from workbench.vault.direct import DirectVault

    return DirectVault.open(vault_path(args)) or open_vault(args)


def _when(v: PromptVersion) -> str:
    return v.created_at.astimezone().strftime("%Y-%m-%d %H:%M")


# ---- handlers -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    path = vault_path(args)
    existed = path.exists() and path.stat().st_size > 0
    from workbench.vault import Vault

    with Vault.open(path, create=True) as vault:
        count = vault.count_prompts()
    what = "already a vault" if existed else "created a new vault"
    emit(
        args.json,
        {"path": str(path), "created": not existed, "prompts": count},
        f"{what}: {path} ({count} prompts)",
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        rows = vault.list_prompts(
            offset=args.offset,
            limit=args.limit,
            prefix=args.prefix or "",
            tag=args.tag,
            label=args.label,
            has_drafts=True if args.drafts else None,
            include_archived=args.archived,
        )
        total = vault.count_prompts()

    def text() -> str:
        filtered = any((args.prefix, args.tag, args.label, args.drafts, args.offset))
        if not rows and (filtered or total):
            return (
                f"no prompt matches (of {total:,} in the vault); "
                "drop a filter or see them all with  workbench vault list"
            )
        if not rows:
            return "no prompts yet: add one with  workbench commit NAME --file FILE -m MESSAGE"
        body = table(
            ["NAME", "VERSIONS", "DRAFTS", "LABELS", "TAGS", "UPDATED"],
            [
                [
                    p.name + (" (archived)" if p.archived else ""),
                    str(p.versions),
                    str(p.drafts),
                    ",".join(p.labels),
                    ",".join(p.tags),
                    p.latest_at.astimezone().strftime("%Y-%m-%d %H:%M") if p.latest_at else "",
                ]
                for p in rows
            ],
        )
        shown = f"{args.offset + 1}-{args.offset + len(rows)} of {total}"
        return f"{body}\n({shown} prompts)"

    emit(args.json, rows, text)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    from workbench.app.sources import pin_names
    from workbench.cli.promptfile import content_to_file_data

    with open_vault(args) as vault:
        v = vault.get_version(args.name, args.version)
        labels = [lab.name for lab in vault.labels(args.name) if lab.version_id == v.id]
        pins = pin_names(vault, v.content)

    def text() -> str:
        head = [
            f"prompt   {v.prompt}",
            f"version  {v.display_number}  id {v.id}",
            f"author   {v.author}   {_when(v)}",
            f"message  {v.message}",
            f"hash     {v.content_hash}",
        ]
        if labels:
            head.append(f"labels   {', '.join(labels)}")
        if v.parent_ids:
            head.append(f"parents  {', '.join(p.hex[:8] for p in v.parent_ids)}")
        if pins:
            head.append(f"sources  {', '.join(pins)}")
        body = yaml.safe_dump(
            content_to_file_data(v.content), sort_keys=False, allow_unicode=True, width=100
        )
        return "\n".join(head) + "\n\n" + body

    emit(args.json, {**v.model_dump(mode="json"), "labels": labels}, text)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        versions = vault.history(args.name)
        labels: dict[str, list[str]] = {}
        for lab in vault.labels(args.name):
            labels.setdefault(str(lab.version_id), []).append(lab.name)
        heads = {v.id for v in vault.heads(args.name)}
    rows = list(reversed(versions))

    def text() -> str:
        out = table(
            ["VERSION", "ID", "AUTHOR", "DATE", "LABELS", "MESSAGE"],
            [
                [
                    v.display_number,
                    v.short_id + ("*" if v.id in heads and len(heads) > 1 else ""),
                    v.author,
                    _when(v),
                    ",".join(labels.get(str(v.id), [])),
                    v.message,
                ]
                for v in rows
            ],
        )
        if len(heads) > 1:
            out += f"\n* {len(heads)} heads: the history forked; continue from either with --parent"
        return out

    emit(
        args.json,
        [{**v.model_dump(mode="json"), "labels": labels.get(str(v.id), [])} for v in rows],
        text,
    )
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from workbench.core.diff import diff_contents
    from workbench.core.diff_views import unified_diff_text

    with open_vault(args) as vault:
        if len(args.refs) > 2:
            raise UsageError(
                "give at most two versions: OLD NEW", hint="e.g. vault diff NAME v1 v2"
            )
        new_ref = args.refs[-1] if args.refs else "latest"
        new = vault.get_version(args.name, new_ref)
        if len(args.refs) == 2:
            old = vault.get_version(args.name, args.refs[0])
        elif new.parent_ids:
            old = vault.version_by_id(new.parent_ids[0])
        else:
            raise UsageError(
                f"{new.display_number} of {args.name!r} has no parent to compare with",
                hint=f"Name two versions: workbench vault diff {args.name} OLD NEW",
            )
    diff = diff_contents(old.content, new.content)
    emit(
        args.json,
        {
            "old": str(old.id),
            "new": str(new.id),
            "empty": diff.is_empty,
            "unified": unified_diff_text(
                old.content, new.content, old.display_number, new.display_number
            ),
        },
        lambda: (
            unified_diff_text(old.content, new.content, old.display_number, new.display_number)
            or "no differences"
        ),
    )
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        hits = vault.search(" ".join(args.query), limit=args.limit)

    def text() -> str:
        if not hits:
            return f"nothing matches {args.query!r}"
        return "\n".join(f"{h.prompt}\n    {h.snippet.replace(chr(10), ' ')}" for h in hits)

    emit(args.json, hits, text)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    if args.dir is not None:
        if args.out is not None:
            raise UsageError("give --dir or --out, not both", hint="--dir writes YAML files.")
        from workbench.cli.interchange_cmds import cmd_vault_export_dir

        return cmd_vault_export_dir(args)
    with open_vault(args) as vault:
        bundle = vault.export_bundle(args.names or None)
    data = (bundle.model_dump_json(indent=2) + "\n").encode("utf-8")
    n_versions = sum(len(p.versions) for p in bundle.prompts)
    if args.out is None or str(args.out) == "-":
        sys.stdout.buffer.write(data)
        return EXIT_OK
    write_atomic(Path(args.out), data)
    emit(
        args.json,
        {"path": str(args.out), "prompts": len(bundle.prompts), "versions": n_versions},
        f"exported {len(bundle.prompts)} prompts, {n_versions} versions to {args.out}",
    )
    return EXIT_OK


PROGRESS_BYTES = 20_000_000
"""Bundles from this size on say what step the import is at (on a terminal)."""


def cmd_import(args: argparse.Namespace) -> int:
    if (args.dir is None) == (args.file is None):
        raise UsageError(
            "give a bundle file or --dir DIR (one of them)",
            hint="e.g. workbench vault import bundle.json, or workbench vault import --dir prompts",
        )
    if args.dir is not None:
        from workbench.cli.interchange_cmds import cmd_vault_import_dir

        return cmd_vault_import_dir(args)
    path = Path(args.file)
    if not path.exists():
        raise UsageError(f"no such file: {path}", hint="Check the bundle path.")
    from workbench.vault.bundle import parse_bundle

    size = path.stat().st_size if path.is_file() else 0
    say = size >= PROGRESS_BYTES and not args.json and sys.stderr.isatty()
    started = time.perf_counter()

    def step(text: str) -> None:  # a big bundle takes seconds per step: say what runs
        if say:
            sys.stderr.write(f"{text} ({time.perf_counter() - started:.1f} s)\n")
            sys.stderr.flush()

    step(f"reading and checking {path} ({size / 1e6:,.0f} MB)…")
    bundle = parse_bundle(path.read_bytes(), str(path))
    versions = sum(len(p.versions) for p in bundle.prompts)
    step(f"importing {versions:,} versions of {len(bundle.prompts):,} prompts in one transaction…")
    with open_vault(args) as vault:
        report = vault.import_bundle(bundle)
    step("done")
    msg = (
        f"imported {report.versions_added} versions ({report.prompts_created} new prompts); "
        f"{report.versions_skipped} already present; {report.labels_set} labels set"
    )
    if report.numbers_as_provenance:
        msg += (
            f"\n{report.numbers_as_provenance} versions were numbered by another registry: "
            "they come in as drafts and get this vault's registry numbers at the next sync"
        )
    if report.labels_kept:
        msg += f"\nkept local labels that differ from the bundle: {', '.join(report.labels_kept)}"
    emit(args.json, report.__dict__, msg)
    return EXIT_OK


def cmd_label(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        target = None if args.remove else vault.get_version(args.name, args.ref).id
        expected: Any
        if args.expect is None:
            expected = next(
                (lab.version_id for lab in vault.labels(args.name) if lab.name == args.label), None
            )
        elif args.expect == "none":
            expected = None
        else:
            expected = vault.get_version(args.name, args.expect).id
        vault.move_label(args.name, args.label, target, expected=expected, reason=args.reason)
    emit(
        args.json,
        {"prompt": args.name, "label": args.label, "version": str(target) if target else None},
        f"{args.name}@{args.label} -> {target or 'removed'}",
    )
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        integrity = vault.integrity_check()
        broken = vault.verify_audit()
        events = len(vault.audit_events())
    ok = integrity == "ok" and broken is None
    emit(
        args.json,
        {"integrity": integrity, "audit_broken_at": broken, "audit_events": events, "ok": ok},
        f"integrity: {integrity}\naudit chain: "
        + ("intact" if broken is None else f"BROKEN at event {broken}")
        + f" ({events} events)",
    )
    return EXIT_OK if ok else EXIT_FAILURE


# ---- parsers --------------------------------------------------------------------------


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    vault = sub.add_parser("vault", help="the local prompt vault", parents=[parent])
    vsub = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)

    p = vsub.add_parser("init", help="create a vault (or check an existing one)", parents=[parent])
    p.set_defaults(handler=cmd_init)

    p = vsub.add_parser("list", help="list prompts", parents=[parent])
    p.add_argument("--prefix", help="only names under this folder, e.g. support/")
    p.add_argument("--tag", help="only prompts whose latest version has this tag")
    p.add_argument("--label", help="only prompts that carry this label")
    p.add_argument("--drafts", action="store_true", help="only prompts with unpushed drafts")
    p.add_argument("--archived", action="store_true", help="include archived prompts")
    p.add_argument("--limit", type=int, default=100, help="show at most this many (100)")
    p.add_argument("--offset", type=int, default=0, help="skip this many first (paging)")
    p.set_defaults(handler=cmd_list)

    p = vsub.add_parser("show", help="show a version's content", parents=[parent])
    p.add_argument("name")
    p.add_argument(
        "version", nargs="?", default="latest", help="latest (default), vN, a label or a version id"
    )
    p.set_defaults(handler=cmd_show)

    p = vsub.add_parser("history", help="versions of a prompt, newest first", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_history)

    p = vsub.add_parser("diff", help="diff two versions", parents=[parent])
    p.add_argument("name")
    p.add_argument(
        "refs",
        nargs="*",
        metavar="VERSION",
        help="OLD NEW, or just NEW (compared with its parent); default: latest vs its parent",
    )
    p.set_defaults(handler=cmd_diff)

    p = vsub.add_parser("search", help="full-text search", parents=[parent])
    p.add_argument("query", nargs="+", help="words to find (every word must match)")
    p.add_argument("--limit", type=int, default=20, help="at most this many prompts (20)")
    p.set_defaults(handler=cmd_search)

    p = vsub.add_parser(
        "export",
        help="write a JSON bundle, or (--dir) one YAML file per prompt for git",
        description="Write every version as a JSON bundle (-o), or with --dir DIR the latest "
        "version of each prompt as DIR/NAME.yaml (the prompt-file format of commit --file) "
        "and its test cases as DIR/NAME.cases.yaml, for teams that keep prompts in git. "
        "Sensitive values are never written to the folder.",
        parents=[parent],
    )
    p.add_argument("names", nargs="*", help="prompts to export (default: all)")
    p.add_argument("--out", "-o", help="bundle file (default: standard output)")
    p.add_argument("--dir", help="write a folder of YAML files instead of a bundle")
    p.set_defaults(handler=cmd_export)

    p = vsub.add_parser(
        "import",
        help="add a JSON bundle's prompts and versions, or (--dir) a folder of YAML files",
        description="Add a JSON bundle, or with --dir DIR a folder that vault export --dir "
        "wrote: a prompt whose file differs from its latest version gets a new version "
        '("import from DIR"), an unchanged one nothing; test cases likewise. Every file is '
        "checked first (a bad one is named with its line) and all is one transaction.",
        parents=[parent],
    )
    p.add_argument("file", nargs="?", help="the bundle (JSON)")
    p.add_argument("--dir", help="import a folder of YAML files instead of a bundle")
    p.set_defaults(handler=cmd_import)

    p = vsub.add_parser("label", help="point a local label at a version", parents=[parent])
    p.add_argument("name")
    p.add_argument("label")
    p.add_argument("ref", nargs="?", default="latest")
    p.add_argument("--expect", help="the version you believe it points at now (or 'none')")
    p.add_argument("--remove", action="store_true", help="take the label off instead")
    p.add_argument("--reason", default="", help="why: it goes into the audit log")
    p.set_defaults(handler=cmd_label)

    p = vsub.add_parser("verify", help="check integrity and the audit chain", parents=[parent])
    p.set_defaults(handler=cmd_verify)
