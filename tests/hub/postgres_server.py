"""A throwaway PostgreSQL server for the hub's tests and bench/hub_ingest.py.

Debian's `postgresql` package (`apt-get install -y postgresql`; `.ci/run` installs it)
brings the server's programs in /usr/lib/postgresql/<version>/bin. The package's own
cluster and service are left alone: `PostgresServer` runs `initdb` on a new folder
under /tmp and `pg_ctl start` on a free loopback port, trusting local connections (the
cluster lives as long as the test run), and removes it all on stop. PostgreSQL refuses
to run as root, so under root (CI, these machines) its programs run as the `postgres`
user the package creates, which then owns the folder.

`$LEARNLINE_TEST_POSTGRES_URL`, when set, names a server to use instead (nothing is
started); the tests then work in a schema of their own in it and drop it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.ports import free_port

APT_COMMAND = "apt-get update && apt-get install -y postgresql"
URL_VARIABLE = "LEARNLINE_TEST_POSTGRES_URL"
ROLE = "learnline"
DATABASE = "learnline"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's programs are missing or the server would not start."""


def server_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder; PostgresUnavailable if none."""
    found = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if re.fullmatch(r"\d+(\.\d+)?", version) and os.access(initdb, os.X_OK):
            found.append((float(version), initdb.parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise PostgresUnavailable(f"PostgreSQL is not installed (no initdb); install it with: "
                              f"{APT_COMMAND}")


def with_options(url: str, options: str) -> str:
    """`url` with libpq `options` (e.g. "-c search_path=x") added to its query."""
    from urllib.parse import quote

    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


class PostgresServer:
    """A private PostgreSQL cluster: `start()`, then `url` (a database `learnline` that
    role `learnline` owns), then `stop()`. `durable=False` turns fsync off (tests);
    True keeps PostgreSQL's defaults (fsync, synchronous_commit on: the bench)."""

    def __init__(self, *, durable: bool = False):
        self.durable = durable
        self.url = ""
        self.folder: Path | None = None
        self._bindir: Path | None = None
        self._user: pwd.struct_passwd | None = None

    def _run(self, *args: str, timeout: float = 120) -> None:
        assert self.folder is not None
        log = self.folder / "commands.log"
        with log.open("ab") as out:
            kwargs = {}
            if self._user is not None:
                kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid,
                          "extra_groups": []}
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
                   "HOME": str(self.folder)}
            done = subprocess.run([str(self._bindir / args[0]), *args[1:]], cwd=self.folder,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                  timeout=timeout, check=False, **kwargs)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"{args[0]} failed ({done.returncode}):\n{tail}")

    def start(self) -> PostgresServer:
        """initdb, start on a free loopback port, create the database; returns self."""
        self._bindir = server_bindir()
        root = os.geteuid() == 0
        # Under root, in /tmp itself: the postgres user must be able to reach the folder,
        # and $TMPDIR may be a folder only root can enter.
        self.folder = Path(tempfile.mkdtemp(prefix="learnline-pg-",
                                            dir="/tmp" if root else None))
        if root:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no 'postgres' user "
                                          f"to run PostgreSQL as; {APT_COMMAND}") from None
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        try:
            data = self.folder / "data"
            self._run("initdb", "-D", str(data), "-U", ROLE, "-A", "trust", "-E", "UTF8",
                      "--locale=C", *(() if self.durable else ("--no-sync",)))
            port = free_port()
            settings = [f"-c port={port}", "-c listen_addresses=127.0.0.1",
                        f"-c unix_socket_directories={self.folder}", "-c max_connections=60"]
            if not self.durable:
                settings += ["-c fsync=off", "-c synchronous_commit=off",
                             "-c full_page_writes=off"]
            self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"),
                      "-w", "-t", "60", "-o", " ".join(settings), "start")
            self._run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, DATABASE)
        except BaseException:
            self.stop()
            raise
        self.url = f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
        return self

    def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away) and remove its folder."""
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            # Already gone or stuck: the folder goes anyway.
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop",
                          timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
