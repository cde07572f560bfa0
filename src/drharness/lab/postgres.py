"""Real PostgreSQL for the Aurora Global Database data plane: a primary and a streaming standby.

Failover promotes the standby (whatever it had not replayed is lost, as in an unplanned Aurora
failover); switchover fences, waits for catch-up, then promotes (nothing lost). Failback re-seeds
the old primary with pg_rewind, falling back to a fresh base backup.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from drharness.errors import EnvironmentProblem

log = logging.getLogger(__name__)

NEEDED = ("initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_rewind")
HOW_TO_GET = (
    "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, pg_rewind) not found: install them "
    "(Debian/Ubuntu: 'apt-get install postgresql'; macOS: 'brew install postgresql@15'), put their "
    "bin directory on PATH, or set DRHARNESS_PG_BIN"
)


def find_pg_bin() -> Path:
    explicit = os.environ.get("DRHARNESS_PG_BIN")
    if explicit:  # an explicit choice is used alone: a wrong one is an error, not a silent fallback
        if all((Path(explicit) / n).is_file() for n in NEEDED):
            return Path(explicit)
        raise EnvironmentProblem(f"DRHARNESS_PG_BIN={explicit} lacks {', '.join(NEEDED)}. " + HOW_TO_GET)
    candidates: list[str] = []
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(which).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/local/pgsql*/bin"), reverse=True)
    for c in candidates:
        if all((Path(c) / n).is_file() for n in NEEDED):
            return Path(c)
    raise EnvironmentProblem(HOW_TO_GET)


def run_as_user() -> str | None:
    """initdb refuses root: when we are root, PostgreSQL runs as 'postgres' (or 'nobody')."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise EnvironmentProblem("running as root and no unprivileged user (postgres/nobody) to run PostgreSQL")


def make_base_dir() -> Path:
    """A private dir outside the checkout: a clone under a 0700 temp dir is not traversable by 'postgres'."""
    base = Path(tempfile.mkdtemp(prefix="drharness-pg-"))
    user = run_as_user()
    if user:
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    return base


CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '512MB'
wal_log_hints = on
hot_standby = on
hot_standby_feedback = on
fsync = off
max_connections = 200
shared_buffers = '64MB'
wal_sender_timeout = '3s'
wal_receiver_timeout = '3s'
wal_receiver_status_interval = '1s'
wal_retrieve_retry_interval = '200ms'
logging_collector = off
log_min_messages = warning
"""

HBA = """
local all all trust
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
"""


@dataclass
class PgNode:
    """One PostgreSQL server (a 'cluster' of Aurora) living in one region."""

    name: str
    region: str
    datadir: Path
    port: int
    bin: Path
    _kept: psycopg.Connection | None = field(default=None, repr=False, compare=False)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        res = subprocess.run(
            cmd, user=run_as_user(), capture_output=True, text=True, timeout=timeout, cwd="/"
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip() or res.stdout.strip()}")
        return res

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        self.write_conf()

    def write_conf(self) -> None:
        (self.datadir / "postgresql.conf").write_text(CONF.format(port=self.port))
        (self.datadir / "pg_hba.conf").write_text(HBA)
        self._chown(self.datadir / "postgresql.conf", self.datadir / "pg_hba.conf")

    def _chown(self, *paths: Path) -> None:
        user = run_as_user()
        if user:
            pw = pwd.getpwnam(user)
            for p in paths:
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"), "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop", check=False)

    def pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        res = self._run("pg_ctl", "-D", str(self.datadir), "status", check=False)
        return res.returncode == 0

    def base_backup_from(self, source: PgNode, replication_port: int) -> None:
        """Seed this node as a streaming standby of `source`, replicating through the given port."""
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(source.port), "-U", "postgres",
                  "-D", str(self.datadir), "-X", "stream", "-c", "fast", "--no-sync")
        self.write_conf()
        self.make_standby(replication_port)

    def make_standby(self, replication_port: int) -> None:
        (self.datadir / "standby.signal").write_text("")
        auto = self.datadir / "postgresql.auto.conf"
        lines = [ln for ln in (auto.read_text().splitlines() if auto.exists() else [])
                 if not ln.startswith("primary_conninfo")]
        lines.append(
            f"primary_conninfo = 'host=127.0.0.1 port={replication_port} user=postgres "
            f"application_name={self.name} connect_timeout=2'"
        )
        auto.write_text("\n".join(lines) + "\n")
        self._chown(self.datadir / "standby.signal", auto)

    def rewind_from(self, source: PgNode) -> bool:
        """pg_rewind this (stopped) node onto source's timeline; False when a base backup is needed."""
        res = self._run("pg_rewind", "--target-pgdata", str(self.datadir), "--source-server",
                        source.dsn.replace(" connect_timeout=2", ""), "--no-sync", check=False,
                        timeout=120)
        if res.returncode != 0:
            log.warning("pg_rewind of %s failed, falling back to base backup: %s", self.name,
                        res.stderr.strip()[-300:])
            return False
        self.write_conf()
        return True

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "60", "promote")

    def in_recovery(self) -> bool:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            return bool(c.execute("SELECT pg_is_in_recovery()").fetchone()[0])

    def query(self, sql: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as c:
            cur = c.execute(sql, args or None)
            return cur.fetchall() if cur.description else []

    def kept_query(self, sql: str, *args: object) -> list[tuple]:
        """``query`` on one kept session: the lab's once-a-second probes opened a PostgreSQL backend
        per statement (a fork each). A failed statement drops the session; the next one reconnects,
        so a restarted, promoted or fenced node is seen as it is now."""
        with self._kept_lock:
            c = self._kept
            if c is None or c.closed or c.broken:
                c = self._kept = psycopg.connect(self.dsn, autocommit=True)
            try:
                cur = c.execute(sql, args or None)
                return cur.fetchall() if cur.description else []
            except psycopg.Error:
                c.close()
                self._kept = None
                raise

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.query("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def current_lsn(node: PgNode) -> str:
    return node.query("SELECT pg_current_wal_lsn()::text")[0][0]


def replay_lsn_reached(standby: PgNode, lsn: str) -> bool:
    row = standby.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)
    return bool(row and row[0][0])


def wait_streaming(standby: PgNode, timeout: float = 15) -> bool:
    """True once the standby's WAL receiver is streaming from its primary."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rows = standby.query("SELECT status FROM pg_stat_wal_receiver")
            if rows and rows[0][0] == "streaming":
                return True
        except psycopg.Error:
            pass
        time.sleep(0.1)
    return False
