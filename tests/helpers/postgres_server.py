"""A throw-away PostgreSQL server for the tests: Debian's package, a temporary data folder, and
a Unix socket in that folder as its only way in (no TCP at all). As root it runs as the
``postgres`` user (PostgreSQL refuses root). Starts in about a second; :meth:`stop` ends it
and removes the folder.

    python -m tests.helpers.postgres_server   # start, print the URL, stop (or say why not)
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "postgres"
DATABASE = "optuna"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def unavailable() -> str | None:
    """Why a server cannot start here (None when it can)."""
    if binaries() is None:
        return ("PostgreSQL is not installed (no initdb): apt-get install postgresql "
                "(tests/install_services.sh)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'seqlstm[postgres]'"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"running as root, and there is no '{USER}' user to run PostgreSQL as"
    return None


class PostgresServer:
    """One server with one empty database, ``optuna``, reachable at :attr:`url`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="seqlstm-pg-"))
        self._process: subprocess.Popen | None = None
        self._as: dict = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database, through the socket in :attr:`root`."""
        return f"postgresql+psycopg://{USER}@/{DATABASE}?host={self.root}"

    def start(self, timeout: float = 60) -> PostgresServer:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        bin_dir, data = binaries(), self.root / "data"
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                        "--encoding=UTF8", "--no-sync", "--no-instructions"], check=True,
                       capture_output=True, text=True, timeout=timeout, **self._as)
        log = (self.root / "postgres.log").open("w")
        self._process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-k", str(self.root),
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=40"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **self._as)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._create_database():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start:\n"
                                   + (self.root / "postgres.log").read_text()[-2000:])
            time.sleep(0.1)

    def _create_database(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(host=str(self.root), user=USER, dbname="postgres",
                                 autocommit=True, connect_timeout=2) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT: the data is thrown away anyway), SIGKILL after 15 s;
        then the folder goes."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGQUIT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> int:
    reason = unavailable()
    if reason:
        print(f"skip: {reason}")
        return 0
    started = time.monotonic()
    server = PostgresServer().start()
    try:
        print(f"PostgreSQL up in {time.monotonic() - started:.1f} s at {server.url}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
