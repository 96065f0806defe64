"""`python -m infra.apikeys` as an operator runs it (a subprocess): the key alone on stdout, one-line errors on
stderr and the documented exit codes (0 done, 1 nothing to revoke, 2 mistyped, 3 the store cannot be used)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from infra.apikeys import authenticate

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def cli(*args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                   "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run([sys.executable, "-m", "infra.apikeys", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert all(word in done.stderr for word in words), done.stderr


def test_create_prints_the_key_alone_list_shows_it_and_revoke_stops_it(tenant: str) -> None:
    # WHEN an operator creates a PARTNER key (any case, spaces allowed in the role list)
    made = cli("create", "--tenant", tenant, "--roles", "partner, viewer", "--name", "metering")
    # THEN stdout is the key alone, stderr says what was made, and the key signs in as the tenant
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("umk_") and "\n" not in secret and "shown only this once" in made.stderr
    principal = authenticate(secret)
    assert principal is not None and principal.tenant == tenant and {r.value for r in principal.roles} == {
        "PARTNER", "VIEWER"}
    # AND list shows it without the secret
    listed = cli("list", "--tenant", tenant)
    assert listed.returncode == 0 and "metering" in listed.stdout and secret not in listed.stdout
    assert "active" in listed.stdout
    # WHEN it is revoked by the key itself
    revoked = cli("revoke", "--key", secret)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    assert authenticate(secret) is None and "revoked" in cli("list", "--tenant", tenant).stdout
    # AND revoking a key nobody has is exit 1, one line
    one_line_error(cli("revoke", "--key", "umk_nobody-has-this-key"), 1, "no such key")
    one_line_error(cli("revoke", "--tenant", tenant, "--id", "01NOTAKEY"), 1, "does not exist")


def test_mistyped_arguments_exit_2_before_the_store_is_touched() -> None:
    # no credentials and no reachable store: the arguments are judged first
    unreachable = {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", **dict.fromkeys(CREDENTIALS)}
    one_line_error(cli("create", "--tenant", "acme", "--roles", "PARTNR", **unreachable), 2, "unknown role 'PARTNR'")
    one_line_error(cli("create", "--tenant", "acme", "--roles", ",", **unreachable), 2, "at least one role")
    one_line_error(cli("create", "--tenant", "acme#1", **unreachable), 2, "tenant 'acme#1'")
    one_line_error(cli("create", "--tenant", "acme", "--key", "short", **unreachable), 2, "--key")
    one_line_error(cli("revoke", "--tenant", "acme", **unreachable), 2, "--key KEY")


def test_store_problems_are_one_line_with_exit_3(store_endpoint: str) -> None:
    # missing credentials (the README's command run as is)
    one_line_error(cli("create", "--tenant", "acme", **dict.fromkeys(CREDENTIALS)), 3, "no AWS credentials",
                   "make serve")
    # a store that is not running
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    one_line_error(cli("list", "--tenant", "acme", AWS_ENDPOINT_URL_DYNAMODB=closed), 3, "cannot reach", closed)
    # a table that does not exist (CATALOG_TABLE not set to the stack's output)
    one_line_error(cli("revoke", "--key", "umk_whatever-key-1234", CATALOG_TABLE="no-such-table"), 3,
                   "'no-such-table' not found", "CATALOG_TABLE")
