"""``workbench source ...``: named data sources that prompt variables are bound to.

Thin over ``workbench.app.sources`` (the flows) and ``workbench.vault.sources`` (the
storage): the window's Sources view does the same through the same functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import EXIT_OK, emit, table
from workbench.cli.vault_cmds import Sub, open_vault

if TYPE_CHECKING:
    from workbench.core.sources import SourceVersion

KINDS = ("csv", "json", "sql", "http")
ROLES = ("author", "reviewer", "publisher", "admin")


def _definition_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The definition options given on the command line (None: not given)."""
    query = args.query
    if getattr(args, "query_file", None):
        from workbench.core.files import read_text

        query = read_text(Path(args.query_file), "--query-file").strip()
    fields = {
        "path": args.path,
        "record_path": args.record_path,
        "url": args.url,
        "query": query,
        "credential": args.credential,
        "header": args.header,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _version_data(v: SourceVersion) -> dict[str, Any]:
    return v.model_dump(mode="json")


def _describe(v: SourceVersion) -> str:
    d, a = v.definition, v.access
    lines = [
        f"{v.label}  {d.kind}{'  (removed)' if v.removed else ''}",
        f"reads: {d.where()}",
    ]
    if d.query:
        lines.append(f"query: {d.query}")
    if d.credential:
        lines.append(f"credential: keychain entry {d.credential!r}" + (
            f" in header {d.header}" if d.header != "Authorization" else ""
        ))  # fmt: skip
    if d.parameters():
        lines.append(f"reads variables: {', '.join(d.parameters())}")
    lines += [
        f"prompts allowed: {', '.join(a.prompts) or 'none yet (add with --allow-prompt)'}",
        f"roles allowed: {' or '.join(a.roles)} and above",
    ]
    if a.sensitive_fields:
        lines.append(f"sensitive fields: {', '.join(a.sensitive_fields)}")
    lines.append(f"definition {v.definition_hash[:12]}  by {v.author}  "
                 f"{v.created_at.astimezone():%Y-%m-%d %H:%M}"
                 + (f"  note: {v.note}" if v.note else ""))  # fmt: skip
    return "\n".join(lines)


def cmd_add(args: argparse.Namespace) -> int:
    from workbench.app.sources import make_access, make_definition
    from workbench.vault.sources import SourceStore

    definition = make_definition({"kind": args.kind, **_definition_fields(args)})
    access = make_access(
        prompts=args.allow_prompt or (), roles=args.allow_role or ("author",),
        sensitive_fields=args.sensitive_field or (),
    )  # fmt: skip
    with open_vault(args) as vault:
        v = SourceStore(vault).add(args.name, definition, access, note=args.message or "")
    emit(args.json, _version_data(v), f"added data source {v.label}\n{_describe(v)}")
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    from workbench.app.sources import make_access, make_definition
    from workbench.vault.sources import SourceStore

    with open_vault(args) as vault:
        store = SourceStore(vault)
        current = store.get(args.name)
        changed = _definition_fields(args)
        definition = None
        if changed:
            definition = make_definition({**current.definition.model_dump(), **changed})
        a = current.access
        prompts = [p for p in a.prompts if p not in (args.deny_prompt or ())]
        prompts += [p for p in args.allow_prompt or () if p not in prompts]
        roles = [r for r in a.roles if r not in (args.deny_role or ())]
        roles += [r for r in args.allow_role or () if r not in roles]
        fields = [f for f in a.sensitive_fields if f not in (args.not_sensitive or ())]
        fields += [f for f in args.sensitive_field or () if f not in fields]
        access = make_access(prompts=prompts, roles=roles, sensitive_fields=fields)
        v = store.edit(args.name, definition, access, note=args.message or "")
    emit(
        args.json,
        _version_data(v),
        f"data source {v.label} (was v{current.number})\n{_describe(v)}",
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from workbench.vault.sources import SourceStore

    with open_vault(args) as vault:
        sources = SourceStore(vault).list_sources(include_removed=args.all)
    rows = [
        [
            s.name + (" (removed)" if s.removed else ""),
            f"v{s.number}",
            s.definition.kind,
            s.definition.where(),
            ", ".join(s.access.prompts) or "-",
        ]
        for s in sources
    ]
    text = (
        table(["source", "version", "kind", "reads", "prompts allowed"], rows)
        if rows
        else "no data sources yet: add one with workbench source add NAME --kind csv --path FILE "
        "--allow-prompt PROMPT"
    )
    emit(args.json, [_version_data(s) for s in sources], text)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from workbench.vault.sources import SourceStore

    with open_vault(args) as vault:
        store = SourceStore(vault)
        if args.versions:
            versions = store.versions(args.name)
            emit(
                args.json,
                [_version_data(v) for v in versions],
                "\n\n".join(_describe(v) for v in reversed(versions)),
            )
            return EXIT_OK
        v = store.get(args.name, args.version)
    emit(args.json, _version_data(v), _describe(v))
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from workbench.app.sources import try_source
    from workbench.cli.compare_cmds import parse_var

    params = dict(parse_var(v) for v in args.var or [])
    with open_vault(args) as vault:
        report = try_source(vault, args.name, params, sample=args.rows)
    lines = [
        f"{report.source} v{report.version}: {report.rows} row{'s' if report.rows != 1 else ''}",
        f"columns: {', '.join(report.columns) or 'none'}",
    ]
    if report.sample:
        lines += [
            "",
            table(report.columns, [[r[c] for c in report.columns] for r in report.sample]),
        ]
        if report.rows > len(report.sample):
            lines.append(f"… {report.rows - len(report.sample)} more")
    emit(args.json, report.__dict__, "\n".join(lines))
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from workbench.vault.sources import SourceStore

    with open_vault(args) as vault:
        SourceStore(vault).remove(args.name)
    emit(
        args.json,
        {"removed": args.name},
        f"removed data source {args.name}: prompts bound to it are refused from now on "
        "(its versions are kept)",
    )
    return EXIT_OK


# ---- parsers --------------------------------------------------------------------------


def _definition_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", help="csv, json: the file (stored as an absolute path)")
    p.add_argument(
        "--record-path", help="json, http: dotted keys to the list of records, e.g. data.items"
    )
    p.add_argument(
        "--url",
        help="sql: a SQLAlchemy URL without a password (sqlite:///crm.db, "
        "postgresql+psycopg://user@host/db); http: a URL template, e.g. "
        "https://api.example.com/customers/{customer_id} ({name}: a variable, URL-encoded)",
    )
    p.add_argument(
        "--query",
        help="sql: one SELECT; :name parameters are bound from the prompt's variables of that "
        "name (never pasted into the text). The database is opened read-only.",
    )
    p.add_argument("--query-file", help="sql: read the query from this file")
    p.add_argument(
        "--credential",
        help="http: the keychain entry whose secret is sent (workbench key set NAME stores "
        "it); sql: the database password's entry. Only the name is kept in the vault.",
    )
    p.add_argument(
        "--header", help="http: the header the credential goes in (default: Authorization: Bearer)"
    )
    p.add_argument("-m", "--message", help="a note on this version (why it changed)")


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    source = sub.add_parser(
        "source",
        help="data sources that prompt variables are bound to (files, SQL, HTTP)",
        description="Named data sources: a prompt variable bound to one takes its value from "
        "it when a run is prepared (write 'source: NAME' and 'field: COLUMN' under the "
        "variable in the prompt file). Each source allows some prompts (by name, or a folder "
        "ending in /) and roles; a binding outside them is refused at commit, run and "
        "publish. Every edit makes a new version; a committed prompt version pins the "
        "definition it was committed with. Every read is in the audit log (never a value).",
        parents=[parent],
    )
    ssub = source.add_subparsers(dest="source_command", metavar="ACTION", required=True)

    p = ssub.add_parser(
        "add",
        help="define a new data source",
        parents=[parent],
        description="e.g. workbench source add customers --kind sql --url sqlite:///crm.db "
        "--query 'SELECT email, plan FROM customers WHERE id = :customer_id' "
        "--allow-prompt support/",
    )
    p.add_argument("name", help="lowercase letters, digits, _ . - (e.g. customers)")
    p.add_argument("--kind", required=True, choices=KINDS, help="where the data is")
    _definition_options(p)
    p.add_argument(
        "--allow-prompt", action="append", metavar="PROMPT",
        help="a prompt that may use it, or a folder ending in / (repeat for more); none: no "
        "prompt may yet",
    )  # fmt: skip
    p.add_argument(
        "--allow-role", action="append", choices=ROLES,
        help="the lowest role that may use it (default: author, everyone); roles come from "
        "the registry login",
    )  # fmt: skip
    p.add_argument(
        "--sensitive-field", action="append", metavar="FIELD",
        help="a field whose values are sensitive: variables bound to it must be marked "
        "sensitive; 'source test' masks it",
    )  # fmt: skip
    p.set_defaults(handler=cmd_add)

    p = ssub.add_parser(
        "edit", help="change a data source (a new version)", parents=[parent],
        description="Options given replace the definition's parts; --allow-/--deny- options "
        "add to or take from the allow-lists. Prompt versions keep the definition they "
        "pinned until they are committed again.",
    )  # fmt: skip
    p.add_argument("name")
    _definition_options(p)
    p.add_argument(
        "--allow-prompt", action="append", metavar="PROMPT", help="allow a prompt/folder"
    )
    p.add_argument("--deny-prompt", action="append", metavar="PROMPT", help="take one off")
    p.add_argument("--allow-role", action="append", choices=ROLES, help="allow a role")
    p.add_argument("--deny-role", action="append", choices=ROLES, help="take a role off")
    p.add_argument("--sensitive-field", action="append", metavar="FIELD", help="mark sensitive")
    p.add_argument("--not-sensitive", action="append", metavar="FIELD", help="unmark a field")
    p.set_defaults(handler=cmd_edit)

    p = ssub.add_parser("list", help="the data sources (their newest versions)", parents=[parent])
    p.add_argument("--all", action="store_true", help="include removed sources")
    p.set_defaults(handler=cmd_list)

    p = ssub.add_parser("show", help="a data source's definition and allow-lists", parents=[parent])
    p.add_argument("name")
    p.add_argument("--version", type=int, help="this version (default: the newest)")
    p.add_argument("--versions", action="store_true", help="every version, newest first")
    p.set_defaults(handler=cmd_show)

    p = ssub.add_parser(
        "test", help="read a data source once: row count and columns", parents=[parent],
        description="Reads the newest version with the given variables and prints how many "
        "rows came back, their columns and the first few (sensitive fields masked). The "
        "read is in the audit log, as a run's is.",
    )  # fmt: skip
    p.add_argument("name")
    p.add_argument(
        "--var", action="append", metavar="NAME=VALUE",
        help="a variable the source reads (a SQL :name, a URL {name}); repeat for more",
    )  # fmt: skip
    p.add_argument("--rows", type=int, default=5, help="rows to show (5)")
    p.set_defaults(handler=cmd_test)

    p = ssub.add_parser(
        "remove", help="retire a data source (its versions are kept)", parents=[parent]
    )
    p.add_argument("name")
    p.set_defaults(handler=cmd_remove)
