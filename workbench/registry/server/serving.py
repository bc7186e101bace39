"""Running the registry under uvicorn: one process, or several on one database.

The app holds no state of its own (every request reads the database; the only cache,
of serialised ``resolve`` answers, is keyed by the state it read), so ``workers``
processes can share one SQLite file or one PostgreSQL. With more than one, uvicorn
starts each worker from an import string, so the settings travel to them in the
environment variable :data:`SETTINGS_ENV` (as JSON) and each worker builds its app
with :func:`app_from_environment`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from workbench.core.errors import UsageError
from workbench.registry.server.app import create_app
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database

SETTINGS_ENV = "WORKBENCH_REGISTRY_SERVE_SETTINGS"
MAX_WORKERS = 64
GIL_SWITCH_INTERVAL_S = 0.0005
"""How long a thread may hold the GIL while another waits for it (CPython: 5 ms).

A writer holds the writers' lock across ~10 SQL statements, and gives up the GIL in
each; with the event loop busy it then waited up to 5 ms for it every time, so one
push held the lock ~4 ms and pushes queued behind it. Measured with the load bench."""


def settings_json(settings: RegistrySettings, *, access_log: bool) -> str:
    """The settings (and the access-log switch) as the JSON workers find in the env."""
    return json.dumps(
        {
            "db_url": settings.db_url,
            "protected_labels": sorted(settings.protected_labels),
            "require_eval_evidence": settings.require_eval_evidence,
            "max_body_bytes": settings.max_body_bytes,
            "default_page": settings.default_page,
            "unprotect_production": settings.unprotect_production,
            "span_retention_days": settings.span_retention_days,
            "access_log": access_log,
        }
    )


def configure_logging(*, access_log: bool) -> None:
    """Registry logs at INFO; the access log only when asked for (it is one line a request)."""
    logging.getLogger("workbench.registry").setLevel(logging.INFO)
    logging.getLogger("workbench.registry.access").setLevel(
        logging.INFO if access_log else logging.WARNING
    )
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def tune_process() -> None:
    """Process-wide settings for a server process (never applied by ``create_app``, so
    tests and embedders keep their interpreter as it is)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def app_from_environment() -> FastAPI:
    """The app factory each worker process calls (``uvicorn ... --factory``)."""
    tune_process()
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise UsageError(
            f"{SETTINGS_ENV} is not set",
            hint="Start workers with 'workbench registry serve --workers N'.",
        )
    settings, access_log = settings_from_json(raw)
    configure_logging(access_log=access_log)
    return create_app(settings)


def settings_from_json(raw: str) -> tuple[RegistrySettings, bool]:
    """The inverse of :func:`settings_json`: the settings and the access-log switch."""
    data: dict[str, Any] = json.loads(raw)
    access_log = bool(data.pop("access_log", False))
    data["protected_labels"] = frozenset(data["protected_labels"])
    return RegistrySettings(**data), access_log


def serve(
    settings: RegistrySettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    workers: int = 1,
    access_log: bool = False,
) -> None:
    """Migrate the database, then serve until interrupted (``workers`` processes)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(
            f"--workers must be between 1 and {MAX_WORKERS}, not {workers}",
            hint="One or two per CPU core is plenty.",
        )
    url = make_url(settings.db_url)
    if (
        workers > 1
        and url.get_backend_name() == "sqlite"
        and url.database in (None, "", ":memory:")
    ):
        raise UsageError(
            "several workers cannot share an in-memory SQLite database",
            hint="Give a SQLite file (sqlite:///PATH) or run one worker.",
        )
    configure_logging(access_log=access_log)
    tune_process()
    open_database(settings.db_url).dispose()  # migrate (and fail clearly) before serving
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,  # ours (AccessLogMiddleware) never records query strings
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    os.environ[SETTINGS_ENV] = settings_json(settings, access_log=access_log)
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **common)
