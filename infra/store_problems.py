"""What a command line says, in one line, when the store cannot be used: no credentials, no endpoint, no table.

    try:
        ...
    except Exception as exc:
        if (problem := explain(exc, settings)) is None:
            raise                       # not a store problem: a bug, with its traceback
        print(f"error: {problem}", file=sys.stderr); return EXIT_STORE

boto3 raises botocore's errors; they are recognised anywhere in the chain of the exception caught.
"""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from infra.settings import Settings

#: the exit code of a command that could not use the store
EXIT_STORE = 3

_REFUSED = {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
            "AccessDeniedException", "MissingAuthenticationTokenException", "InvalidClientTokenId"}


def explain(exc: BaseException, settings: Settings) -> str | None:
    """One line saying what is wrong with the store and what to do; None when ``exc`` is not a store problem."""
    where = settings.dynamodb_endpoint or f"AWS DynamoDB in {settings.region}"
    local_hint = "locally, paste the `export` lines `make serve` prints"
    for cause in _chain(exc):
        if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
            return f"no AWS credentials for {where} ({local_hint}; on AWS, set AWS_PROFILE or the AWS_* keys)"
        if isinstance(cause, NoRegionError):
            return "no AWS region: set AWS_REGION"
        if isinstance(cause, EndpointConnectionError):
            return f"cannot reach {where}: is `make serve` running, and AWS_ENDPOINT_URL_DYNAMODB right?"
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            message = cause.response.get("Error", {}).get("Message", "") or str(cause)
            if code == "ResourceNotFoundException":
                return (f"table {settings.catalog_table!r} not found at {where}: on AWS set CATALOG_TABLE (and the "
                        "other *_TABLE variables) to the stack's outputs; locally start `make serve` first")
            if code in _REFUSED:
                return f"{where} refused the credentials ({code}: {message})"
            return f"{where} answered {code or 'an error'}: {message}"
        if isinstance(cause, BotoCoreError):
            return f"{where}: {cause}"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]
