"""Writing files so that a crash never leaves half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workbench.core.errors import InputError, UsageError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename.

    Readers see the old file or the new one, never a mix; after a crash the old one
    is intact. Text is written as UTF-8.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_text(path: Path, option: str) -> str:
    """A user-given text file as UTF-8 (a leading BOM is dropped), or a clear error
    naming the ``option`` it came from (e.g. ``--file``)."""
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise UsageError(f"{what}: {path}", hint=f"Check the {option} path.")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="Save the file as UTF-8.",
        ) from exc
