"""``workbench provider|key``: provider profiles and their keys from the shell."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import TYPE_CHECKING, Any

from workbench.cli.output import (
    EXIT_OK,
    emit,
    table,
)
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError, WorkbenchError

if TYPE_CHECKING:
    pass

Sub = Any


# ---- providers and keys -------------------------------------------------------------


def _parse_price(text: str) -> tuple[str, dict[str, float]]:
    from workbench.providers.profiles import parse_price

    try:
        model, price = parse_price(text)
    except ValueError as exc:
        raise UsageError(
            f"--price: {exc}", hint="e.g. --price llama3.1=0,0 or --price my-model=0.5,1.5"
        ) from None
    return model, price.model_dump()


def cmd_provider_add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from workbench.app.services import save_profile
    from workbench.providers.profiles import ProviderProfile

    prices = dict(_parse_price(p) for p in args.price or [])
    try:
        profile = ProviderProfile(
            name=args.name,
            family=args.family,
            base_url=args.base_url or "",
            key_name=args.key_name,
            key_env=args.key_env,
            concurrency=args.concurrency,
            prices=prices,
            models=tuple(args.model or ()),
        )
    except ValidationError as exc:
        from workbench.providers.profiles import profile_problem

        raise UsageError(
            f"invalid provider profile: {profile_problem(exc)}",
            hint="See: workbench provider add --help",
        ) from exc
    save_profile(profile)
    note = ""
    if profile.key_name:
        note = f"\nstore its key once with: workbench key set {profile.key_name}"
    emit(
        args.json,
        profile,
        f"saved provider {profile.name} ({profile.family}, "
        f"{profile.base_url or 'no network'}){note}",
    )
    return EXIT_OK


def cmd_provider_list(args: argparse.Namespace) -> int:
    from workbench.app.services import profiles_from
    from workbench.providers.profiles import detect_ollama
    from workbench.settings import load_settings

    profiles = profiles_from(load_settings())
    ollama = False
    if not any(p.family == "ollama" for p in profiles.values()):
        ollama = asyncio.run(detect_ollama())
    rows = [
        [
            p.name,
            p.family,
            p.base_url or "(none)",
            p.key_name or (f"${p.key_env}" if p.key_env else "-"),
            "run's" if p.concurrency is None else str(p.concurrency),
        ]
        for p in profiles.values()
    ]
    text = table(["NAME", "FAMILY", "BASE URL", "KEY", "CONCURRENCY"], rows)
    text += "\n(echo is built in: it returns the rendered prompt, calls no model, costs 0)"
    if ollama:
        text += (
            "\nAn Ollama server answers on 127.0.0.1:11434; add it with:"
            "  workbench provider add ollama --family ollama"
        )
    emit(args.json, {"profiles": list(profiles.values()), "ollama_detected": ollama}, text)
    return EXIT_OK


def cmd_provider_remove(args: argparse.Namespace) -> int:
    from workbench.app.services import remove_profile

    remove_profile(args.name)
    emit(args.json, {"removed": args.name}, f"removed provider {args.name}")
    return EXIT_OK


def cmd_provider_test(args: argparse.Namespace) -> int:
    from workbench.app.models import ModelCache, list_models, listing_for
    from workbench.app.services import key_resolver, profiles_from
    from workbench.settings import load_settings

    profiles = profiles_from(load_settings())
    profile = profiles.get(args.name)
    if profile is None:
        raise UsageError(
            f"no provider profile named {args.name!r}", hint="See: workbench provider list"
        )
    with open_vault(args) as vault:
        key = key_resolver(vault)(profile)

    # The one probe (the window's "Test connection" too); its answer is the model list
    # the window offers in Compare.
    cache = ModelCache.default()
    start = time.perf_counter()
    try:
        models = list_models(profile, key)
    except WorkbenchError as exc:
        if profile.family != "echo":
            cache.put(listing_for(profile, None, exc, cache.get(profile)))
        raise
    ms = (time.perf_counter() - start) * 1000
    if profile.family != "echo":
        cache.put(listing_for(profile, models, None))
    shown = ", ".join(models[:20]) + (" ..." if len(models) > 20 else "")
    emit(
        args.json,
        {"profile": profile.name, "models": models, "ms": ms},
        f"{profile.name}: ok in {ms:.0f} ms, {len(models)} models: {shown}",
    )
    return EXIT_OK


def cmd_key_set(args: argparse.Namespace) -> int:
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.secrets.store import validate_secret_name, validate_secret_value

    name = validate_secret_name(args.name)
    if sys.stdin.isatty():
        value = getpass.getpass(f"key for {name} (input hidden): ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    value = validate_secret_value(name, value)
    store = KeyringStore()
    store.set(name, value)
    emit(
        args.json,
        {"stored": name, "backend": store.backend_name},
        f"stored {name} in the keychain ({store.backend_name})",
    )
    return EXIT_OK


def cmd_key_delete(args: argparse.Namespace) -> int:
    from workbench.secrets.keyring_store import KeyringStore

    KeyringStore().delete(args.name)
    emit(args.json, {"deleted": args.name}, f"deleted {args.name} from the keychain")
    return EXIT_OK


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    prov = sub.add_parser("provider", help="model provider profiles", parents=[parent])
    psub = prov.add_subparsers(dest="provider_command", metavar="ACTION", required=True)
    p = psub.add_parser("add", help="add or replace a profile", parents=[parent])
    p.add_argument("name")
    p.add_argument(
        "--family",
        required=True,
        choices=["openai", "anthropic", "gemini", "ollama"],
        help="API family; 'openai' covers every OpenAI-compatible server",
    )
    p.add_argument("--base-url", help="server URL (default: the family's public endpoint)")
    p.add_argument("--key-name", help="keychain entry holding the key (see: workbench key set)")
    p.add_argument("--key-env", help="environment variable with the key, for headless CI")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="the profile's own limit on calls in flight; a run gets the lower of its own "
        "--concurrency and this (default: no limit of its own, the run's applies)",
    )
    p.add_argument("--model", action="append", help="a model name, for servers that list none")
    p.add_argument(
        "--price",
        action="append",
        metavar="MODEL=IN,OUT",
        help="USD per million input,output tokens for MODEL (overrides genai-prices)",
    )
    p.set_defaults(handler=cmd_provider_add)
    p = psub.add_parser("list", help="list profiles", parents=[parent])
    p.set_defaults(handler=cmd_provider_list)
    p = psub.add_parser("test", help="connect and list the provider's models", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_provider_test)
    p = psub.add_parser("remove", help="remove a profile", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_provider_remove)

    key = sub.add_parser("key", help="provider keys in the OS keychain", parents=[parent])
    ksub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    p = ksub.add_parser(
        "set", help="store a key (read from a hidden prompt or stdin, never argv)", parents=[parent]
    )
    p.add_argument("name", help="the key's name, as the profile's --key-name")
    p.set_defaults(handler=cmd_key_set)
    p = ksub.add_parser("delete", help="remove a key from the keychain", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_key_delete)
