"""The database's files on disk: nothing for other local users, and a one-line cause when unusable.

The file holds prompts and who did what, so other users of the machine get no access (issue 9). A
new database file is created 0640 and a data directory we create 0750; SQLite gives the -wal and
-shm files the mode of the database file, so they follow. An existing file loses its other-bits at
start-up (logged once). Group read stays for a reader running as another user of the owner's group
(a Grafana installed on the host with the SQLite datasource). The Docker Compose stack needs no group
bit: all its containers run as the owner of ./data, which setup.sh makes 0700 (docs/docker.md).
The umask still applies on top, so a stricter umask (077) gives 0600/0700.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)
DB_MODE = 0o640
DIR_MODE = 0o750
COMPANIONS = ("", "-wal", "-shm", "-journal")


def prepare(path: Path) -> None:
    """Create the directory and an empty database file with our modes, or tighten an existing file."""
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{path.parent} is not a directory")
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_MODE))  # SQLite takes an empty file as new
    except FileExistsError:
        tighten(path)


def tighten(path: Path) -> None:
    """Remove other users' access to the database and its companion files; one log line if any had it."""
    changed = []
    for name in (f"{path}{suffix}" for suffix in COMPANIONS):
        try:
            mode = os.stat(name).st_mode & 0o777
        except FileNotFoundError:
            continue
        if not mode & 0o007:
            continue
        try:
            os.chmod(name, mode & ~0o007)
            changed.append(f"{name} {mode:04o} -> {mode & ~0o007:04o}")
        except OSError as exc:  # not our file: say so, the server can still run
            log.warning("other users can read %s (mode %04o) and it cannot be changed: %s", name, mode, exc.strerror)
    if changed:
        log.warning("other users could read the database; removed their access: %s", ", ".join(changed))


def cause(path: Path, exc: BaseException) -> str:
    """Why the file cannot be used, in a few words ('database or disk is full', 'Read-only file system')."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    text, code = str(exc), getattr(exc, "sqlite_errorcode", 0) & 0xFF
    folder = path.parent
    if not isinstance(exc, sqlite3.Error) or not folder.is_dir():
        return text
    if code == 10 and shutil.disk_usage(folder).free == 0:  # SQLITE_IOERR: e.g. the -shm file could not grow
        text += " (the file system is full)"
    elif code in (8, 14):  # SQLITE_READONLY, SQLITE_CANTOPEN: SQLite does not say why
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            text += " (read-only file system)"
        elif not os.access(folder, os.W_OK):
            text += f" (no write permission on {folder})"
        elif path.exists() and not os.access(path, os.W_OK):
            text += " (no write permission on the file)"
    return text
