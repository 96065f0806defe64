"""The command line of ``python -m infra.apikeys`` (its usage and exit codes are in that module's docstring).

Arguments are checked before the store is touched, so a mistyped role fails at once, with or without AWS
credentials. It never creates tables: against AWS it uses the stack's (``CATALOG_TABLE``), locally those of a
running ``make serve``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.auth import ApiKey, check_tenant, key_request
from core.errors import DomainError, ErrorCode
from infra import apikeys
from infra.store_problems import EXIT_STORE, explain

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
MIN_GIVEN_KEY, MAX_KEY = 16, 200


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.apikeys", description=apikeys.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key for a tenant (creates the tenant's defaults if new)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--roles", default="ADMIN", help="comma-separated: ADMIN,PARTNER,VIEWER (default ADMIN)")
    create.add_argument("--name", default="cli", help="what or who uses the key (default: cli)")
    create.add_argument("--key", help=f"use this key ({MIN_GIVEN_KEY}–{MAX_KEY} characters) instead of a random one")
    listing = sub.add_parser("list", help="list a tenant's keys (never their secrets)")
    listing.add_argument("--tenant", required=True)
    revoke = sub.add_parser("revoke", help="revoke a key, given the key itself or its tenant and id")
    revoke.add_argument("--key")
    revoke.add_argument("--tenant")
    revoke.add_argument("--id", dest="key_id")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        check_arguments(args)
    except DomainError as exc:
        return fail(exc.message, EXIT_USAGE)
    from infra.bootstrap import connect

    settings = connect(create_tables=False)
    try:
        return run(args)
    except DomainError as exc:
        return fail(exc.message, EXIT_NOT_FOUND if exc.code == ErrorCode.NOT_FOUND else EXIT_USAGE)
    except Exception as exc:
        problem = explain(exc, settings)
        if problem is None:
            raise  # not the store: a bug, which deserves its traceback
        return fail(problem, EXIT_STORE)


def check_arguments(args: argparse.Namespace) -> None:
    if args.command in ("create", "list"):
        check_tenant(args.tenant)
    if args.command == "create":
        args.request = key_request(args.name, args.roles.split(","))
        if args.key is not None and not MIN_GIVEN_KEY <= len(args.key) <= MAX_KEY:
            raise DomainError(ErrorCode.INVALID_VALUE, f"--key must be {MIN_GIVEN_KEY}–{MAX_KEY} characters", "key")
    if args.command == "revoke" and bool(args.key) == bool(args.tenant and args.key_id):
        raise DomainError(ErrorCode.REQUIRED, "revoke needs either --key KEY, or --tenant TENANT and --id KEY_ID")


def run(args: argparse.Namespace) -> int:
    if args.command == "create":
        from infra.bootstrap import bootstrap_tenant

        bootstrap_tenant(args.tenant)
        record, secret = apikeys.ApiKeysRepository(args.tenant).create(args.request, args.key)
        print(secret, flush=True)
        print(f"created {describe(record)}; the key is shown only this once", file=sys.stderr)
        return EXIT_OK
    if args.command == "list":
        repo, after = apikeys.ApiKeysRepository(args.tenant), None
        while True:
            page, more = repo.page(after, 100)
            for record in page:
                print(f"{record.id}\t{','.join(sorted(record.roles))}\t{record.created_at.isoformat()}\t"
                      f"{'revoked ' + record.revoked_at.isoformat() if record.revoked_at else 'active'}\t{record.name}")
            if not more:
                return EXIT_OK
            after = page[-1].id
    if args.key:
        found = apikeys.revoke_key(args.key)
        if found is None:
            return fail("no such key: nothing was revoked", EXIT_NOT_FOUND)
    else:
        found = apikeys.ApiKeysRepository(args.tenant).revoke(args.key_id)
    print(f"revoked {describe(found)}", file=sys.stderr)
    return EXIT_OK


def describe(record: ApiKey) -> str:
    ident = f"key {record.id}" if record.id else "key"
    text = f"{ident} {record.name!r} ({', '.join(sorted(record.roles))}) of tenant {record.tenant!r}"
    return text + (f", revoked at {record.revoked_at.isoformat()}" if record.revoked_at else "")


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
