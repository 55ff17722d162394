"""PostgreSQL for the tests (issue #14): one cluster per session, a fresh empty database per test.

By default a session starts a throwaway cluster from the installed server binaries (initdb, pg_ctl)
in a temp dir: 127.0.0.1 on a free port, trust auth, and no durability (fsync, synchronous_commit,
full_page_writes off), because a test database never has to survive a machine crash.
CCMONITOR_TEST_POSTGRES_URL (an admin URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres) points
the tests at a running server instead; the harness creates and drops its databases there but never
stops that server, so a test that stops PostgreSQL starts its own cluster with start_throwaway().

initdb and postgres refuse to run as root, so under root (CI containers) they run as the `postgres`
system user that Debian's postgresql package creates, in a temp dir chowned to it.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ENV_URL = "CCMONITOR_TEST_POSTGRES_URL"
INSTALL = "apt-get install -y postgresql"
BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
DATABASE_NAME = re.compile(r"ccm_[0-9a-f]{32}")
StopMode = Literal["smart", "fast", "immediate"]


class HarnessError(RuntimeError):
    """The test PostgreSQL could not be set up or used as asked."""


class PostgresNotInstalled(HarnessError):
    pass


class NotStoppable(HarnessError):
    pass


def find_bin_dir(path: str | None = None, debian_dirs: str = DEBIAN_BIN_DIRS) -> Path:
    """The directory holding initdb, pg_ctl and postgres: the one initdb in PATH comes from, else Debian's
    highest version. All three come from one directory so that they are the same version."""
    candidates = []
    in_path = shutil.which("initdb", path=path)
    if in_path:
        candidates.append(Path(in_path).resolve().parent)
    candidates += sorted((Path(d) for d in glob.glob(debian_dirs)), key=_version, reverse=True)
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in BINARIES):
            return directory
    raise PostgresNotInstalled(
        f"no PostgreSQL server binaries ({', '.join(BINARIES)}) in PATH or {debian_dirs}: "
        f"install them ({INSTALL}) or set {ENV_URL} to an admin URL of a running server")


def _version(bin_dir: Path) -> tuple[int, ...]:
    """'/usr/lib/postgresql/9.6/bin' -> (9, 6), so that 15 sorts above 9.6."""
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) or (-1,)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _owner() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root, whom initdb refuses."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise HarnessError(f"running as root, and initdb refuses root; there is no '{SUPERUSER}' system user "
                           f"to run it as ({INSTALL} creates one), or set {ENV_URL}") from None


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LocalServer:
    """A cluster in a temp dir, run with pg_ctl; the directory is deleted with it."""

    def __init__(self, bin_dir: Path, base: Path, owner: pwd.struct_passwd | None) -> None:
        self.bin_dir, self.base, self.owner = bin_dir, base, owner
        self.data = base / "data"
        self.log = base / "server.log"
        self.port = 0
        self.running = False

    @classmethod
    def create(cls) -> LocalServer:
        bin_dir, owner = find_bin_dir(), _owner()
        base = Path(tempfile.mkdtemp(prefix="ccmonitor-pg-"))
        server = cls(bin_dir, base, owner)
        try:
            if owner:
                os.chown(base, owner.pw_uid, owner.pw_gid)
            server.init()
            server.start_on_free_port()
        except BaseException:
            server.destroy()
            raise
        return server

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C",
                  "--no-sync")
        settings = {**SETTINGS, "unix_socket_directories": str(self.base)}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:  # appending keeps its owner
            conf.write("\n# tests/postgres_cluster.py\n")
            conf.writelines(f"{key} = {_quoted(value)}\n" for key, value in settings.items())

    def start_on_free_port(self, attempts: int = 3) -> None:
        """Another process can take the probed port before the server binds it: then try another."""
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self.start()
                return
            except HarnessError as error:
                if "could not bind" not in str(error) or attempt == attempts - 1:
                    raise

    def start(self) -> None:
        log_start = self.log.stat().st_size if self.log.exists() else 0
        try:
            self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}",
                      "-w", "-t", "60")
        except HarnessError as error:
            raise HarnessError(f"{error}\n{self._log_since(log_start)}") from None
        self.running = True

    def stop(self, mode: StopMode = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")
        self.running = False

    def destroy(self) -> None:
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as log:
                log.seek(offset)
                return log.read()[-4000:]
        except FileNotFoundError:
            return ""

    def _run(self, binary: str, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        command = [str(self.bin_dir / binary), *args]
        if self.owner:
            # setpriv drops to the owner, not subprocess's user=/group=: with those, Python forks (no
            # vfork) and the child runs gRPC's fork handlers while test threads are inside gRPC calls;
            # the child then died of SIGSEGV before exec (pg_ctl "failed (-11)", seen twice under load).
            command = ["setpriv", f"--reuid={self.owner.pw_uid}", f"--regid={self.owner.pw_gid}", "--clear-groups",
                       "--", *command]
        # pg_ctl start sends the server's output to the -l log, so the server never holds these pipes open.
        done = subprocess.run(command, cwd=self.base, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise HarnessError(f"{binary} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


class PostgresCluster:
    """A PostgreSQL server to create test databases in; stoppable when the harness started it."""

    def __init__(self, url: str, server: LocalServer | None = None) -> None:
        self.url = url
        self._server = server
        self._created: set[str] = set()

    @property
    def stoppable(self) -> bool:
        return self._server is not None

    @property
    def directory(self) -> Path | None:
        """A throwaway cluster's temp dir (data/, server.log, the socket); None for a server from the env."""
        return self._server.base if self._server else None

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty (from template0, so nothing added to template1 comes along) or a copy of
        the database at URL `template` (which must have no connections); its URL."""
        name = f"ccm_{uuid.uuid4().hex}"
        source = urlsplit(template).path.lstrip("/") if template else "template0"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source)))
        self._created.add(name)
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def drop_database(self, url: str) -> None:
        """Drops a database create_database made, disconnecting whoever is still in it."""
        name = urlsplit(url).path.lstrip("/")
        if not DATABASE_NAME.fullmatch(name):
            raise ValueError(f"not a database create_database made: {name!r}")
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._created.discard(name)

    def stop_server(self, mode: StopMode = "fast") -> None:
        self._local().stop(mode)

    def start_server(self) -> None:
        self._local().start()

    def restart(self, mode: StopMode = "fast") -> None:
        """Same port and data afterwards, so every URL handed out still works."""
        server = self._local()
        server.stop(mode)
        server.start()

    def stop(self) -> None:
        """Deletes a throwaway cluster; on someone else's server, drops the databases still left."""
        if self._server:
            self._server.destroy()
            atexit.unregister(self._server.destroy)
        else:
            for name in sorted(self._created):
                self.drop_database(urlunsplit(urlsplit(self.url)._replace(path=f"/{name}")))

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _local(self) -> LocalServer:
        if self._server is None:
            raise NotStoppable(f"this PostgreSQL was given by {ENV_URL}; the harness does not stop or start a server "
                               "it did not start (use postgres_cluster.start_throwaway() for that)")
        return self._server

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)


def start_throwaway() -> PostgresCluster:
    """A private cluster from the installed binaries, which the caller may stop and restart."""
    server = LocalServer.create()
    atexit.register(server.destroy)  # a caller that never calls stop() leaves no server behind
    return PostgresCluster(server.url, server)


def start(env: Mapping[str, str] = os.environ) -> PostgresCluster:
    """The server CCMONITOR_TEST_POSTGRES_URL names if set (not stoppable), else a throwaway cluster."""
    url = env.get(ENV_URL, "").strip()
    if not url:
        return start_throwaway()
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise HarnessError(f"{ENV_URL} must be a postgresql:// URL")
    try:
        psycopg.connect(url, autocommit=True, connect_timeout=10).close()
    except psycopg.OperationalError as error:
        raise HarnessError(f"{ENV_URL}: cannot connect: {error}") from None
    return PostgresCluster(url)
