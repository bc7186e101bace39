"""Shared fixtures: real PostgreSQL and a real, private Secret Service.

- ``pg_server`` (session): a throw-away PostgreSQL server on 127.0.0.1;
  ``pg_server.url(dbname)`` gives a SQLAlchemy URL.
- ``pg_url`` (function): a fresh, empty database on it, dropped afterwards.
- ``secret_service`` (function): a private D-Bus session bus with gnome-keyring's
  Secret Service unlocked on it, and a ``KeyringStore`` bound to it.

Tests using them are marked ``postgres`` / ``keychain`` automatically. When the
system programs are missing these fixtures *fail* and say to run ``make test``
(which installs them): a test that silently skips proves nothing.

Nothing here imports PySide6: this file also runs in the Qt-less test step.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.secrets import KeyringStore

_FIXTURE_MARKERS = {"pg_server": "postgres", "pg_url": "postgres", "secret_service": "keychain"}
_MAKE_TEST_HINT = "Run `make test`, which installs the system packages the tests need."


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the real services they use, so ``-m "not postgres"`` works."""
    for item in items:
        for fixture_name in getattr(item, "fixturenames", ()):
            marker = _FIXTURE_MARKERS.get(fixture_name)
            if marker and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(cmd: list[str], what: str, cwd: Path) -> None:
    """Run ``cmd``; on failure, fail the test with its output (not a traceback)."""
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists()
    ]
    if not candidates:
        pytest.fail(
            "PostgreSQL server programs were not found in /usr/lib/postgresql/*/bin, so the "
            f"'postgres' tests cannot run. {_MAKE_TEST_HINT} "
            "(Or: apt-get install -y --no-install-recommends postgresql)",
            pytrace=False,
        )

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in bindir.parent.name.split(".") if p.isdigit())

    return max(candidates, key=version)


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away server; superuser ``postgres``, no password (trust)."""

    host: str
    port: int
    socket_dir: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq/psycopg connection string (no SQLAlchemy driver prefix)."""
        return f"host={self.host} port={self.port} user=postgres dbname={dbname}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL (fsync off: test data need not survive a power cut)."""
    bindir = _postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="wb-pg-"))
    data = root / "data"
    # initdb refuses to run as root: run it and the server as the postgres user,
    # in a directory that user owns. As anybody else, run them as ourselves.
    as_owner: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.fail(f"There is no 'postgres' system user. {_MAKE_TEST_HINT}", pytrace=False)
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        _run(
            [*as_owner, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            "initdb",
            cwd=root,
        )  # fmt: skip
        # A port can be taken between choosing it and the server binding it; retry.
        for _attempt in range(3):
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} "
                f"-c unix_socket_directories={root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = subprocess.run(
                [*pg_ctl, "-l", str(root / "server.log"), "-o", options, "-w", "-t", "60",
                 "start"],
                capture_output=True, text=True, check=False, cwd=root,
            )  # fmt: skip
            if start.returncode == 0:
                started = True
                break
        if not started:
            log = (root / "server.log").read_text(errors="replace")
            pytest.fail(f"PostgreSQL did not start:\n{start.stderr}\n{log}", pytrace=False)
        yield PostgresServer(host="127.0.0.1", port=port, socket_dir=root)
    finally:
        if started:
            subprocess.run(
                [*pg_ctl, "-m", "immediate", "-w", "stop"],
                capture_output=True, check=False, cwd=root,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A new empty database's SQLAlchemy URL; dropped (connections and all) after."""
    import psycopg
    from psycopg import sql

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# ------------------------------------------------------------------- Secret Service

_SECRETS_NAME = "org.freedesktop.secrets"


def _start_secret_service(address: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start gnome-keyring's Secret Service on the bus; return once it serves.

    The daemon runs in the foreground as our child (so it can always be stopped)
    and says nothing when ready, so wait for the bus to announce the new owner of
    org.freedesktop.secrets, subscribing first so the announcement cannot be missed.
    """
    from jeepney import DBus, MatchRule  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    bus = DBus()
    rule = MatchRule(type="signal", interface="org.freedesktop.DBus", member="NameOwnerChanged")
    rule.add_arg_condition(0, _SECRETS_NAME)
    with open_dbus_connection(bus=address) as conn:
        conn.send_and_get_reply(bus.AddMatch(rule), timeout=10)
        with conn.filter(rule) as announcements:
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env,
            )  # fmt: skip
            assert daemon.stdin is not None
            daemon.stdin.write(b"test-keyring-password")  # --unlock reads it until EOF
            daemon.stdin.close()
            try:
                conn.recv_until_filtered(announcements, timeout=30)
            except TimeoutError:
                daemon.kill()
                daemon.wait()
                pytest.fail(
                    f"gnome-keyring-daemon did not serve the bus (exit {daemon.returncode})",
                    pytrace=False,
                )
    return daemon


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def secret_service(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KeyringStore]:
    """A ``KeyringStore`` on a private, unlocked gnome-keyring; nothing is shared.

    Starts its own ``dbus-daemon`` and ``gnome-keyring-daemon`` with HOME and XDG_*
    in a temp dir, points ``DBUS_SESSION_BUS_ADDRESS`` at that bus, and makes it
    keyring's backend (keyring caches its choice, so ``set_keyring`` it and put the
    old one back afterwards). Both daemons are stopped at the end.
    """
    import keyring
    from keyring.backends import SecretService

    for program in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(program) is None:
            pytest.fail(
                f"{program} is missing, so the 'keychain' tests cannot run. {_MAKE_TEST_HINT} "
                "(Or: apt-get install -y --no-install-recommends dbus gnome-keyring)",
                pytrace=False,
            )
    root = tmp_path_factory.mktemp("secret-service")
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "runtime")):  # fmt: skip
        (root / sub).mkdir(mode=0o700)
        env[var] = str(root / sub)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    previous_backend = keyring.get_keyring()
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    daemon: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()  # printed once the bus listens
        if not address:
            pytest.fail("dbus-daemon did not print its address", pytrace=False)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = _start_secret_service(address, env)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        backend = SecretService.Keyring()
        keyring.set_keyring(backend)
        yield KeyringStore(backend)
    finally:
        keyring.set_keyring(previous_backend)
        if daemon is not None:
            _stop(daemon)
        _stop(bus)
        if bus.stdout is not None:
            bus.stdout.close()
