"""Writing files so that a crash never leaves half of one."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError, UsageError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename.

    Readers see the old file or the new one, never a mix; after a crash the old one
    is intact. Text is written as UTF-8.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # named by the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_text(path: Path, option: str) -> str:
    """A user-given text file as UTF-8 (a leading BOM is dropped), or a clear error
    naming the ``option`` it came from (e.g. ``--file``)."""
    if str(path) == "-":  # the usual spelling of standard input
        raw = sys.stdin.buffer.read()
    elif path.is_dir() or not path.exists():
        what = "a directory" if path.is_dir() else "no such file"
        raise UsageError(f"{what}: {path}", hint=f"Check the {option} path.")
    else:  # a file, or a pipe such as /dev/stdin or <(...)
        raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="Save the file as UTF-8.",
        ) from exc


_OS_HINTS = {
    errno.ENOENT: "Check the path: the file, or the folder it goes in, does not exist.",
    errno.EISDIR: "That is a folder: give a file name (inside it, if you like).",
    errno.ENOTDIR: "A part of the path is a file, not a folder: check the path.",
    errno.EACCES: "You may not read or write there: choose another place or fix the permissions.",
    errno.EPERM: "You may not read or write there: choose another place or fix the permissions.",
    errno.EROFS: "That file system is read-only: choose a place you can write to.",
    errno.ENOSPC: "The disk is full: free some space and run the command again.",
    errno.EDQUOT: "Your disk quota is used up: free some space and run the command again.",
}


def os_problem(exc: OSError) -> UsageError | None:
    """A file-system condition a person can fix (a missing folder, a folder where a
    file was meant, no permission, a read-only or full disk) as a clear error naming the
    path; None for anything else (a bug, or a network error with its own handling)."""
    hint = _OS_HINTS.get(exc.errno or -1)
    if hint is None:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    return UsageError(f"cannot use {where}: {exc.strerror or 'refused'}", hint=hint)


def load_yaml(text: str) -> Any:
    """YAML as plain data (the safe subset: no objects), parsed by libyaml's C parser
    when PyYAML was built with it: a 1 MB prompt file in tens of milliseconds instead
    of a second. Errors are PyYAML's own (``yaml.YAMLError``, with marks)."""
    import yaml  # ~30-100 ms: only when a YAML file is read

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
