"""The embedded store: moto's DynamoDB (and Streams, S3, SQS) served over HTTP from a thread of this process.

Clients reach it like any AWS endpoint, so the same boto3 code runs against it, DynamoDB Local and AWS.
It is moto's `ThreadedMotoServer` put together from the same parts, moto as it ships, with three differences: it
binds port 0 by default and reports the port it got, it does not log every request to stderr, and it answers one
request at a time. moto's backends are not made for concurrent requests: a TransactWriteItems deep-copies each
table it touches (to roll back on failure) and restores that copy when it fails, so a write landing in between
would be lost, and a copy taken while another thread writes fails with "dictionary changed size during
iteration". Rating sends a step's transactions at once, so the server serialises requests (as DynamoDB isolates
transactions); the Python work of the store was serialised by the GIL anyway.

moto keeps its data in process-global backends, so two embedded stores in one process share one set of
tables, and leaving a `mock_aws()` block in the same process resets them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

#: moto's backends are process-global, and so is the lock: every embedded store of the process takes it.
_REQUESTS = threading.Lock()


class _OneAtATime:
    """A WSGI application answering one request at a time: the whole response is built under `_REQUESTS`."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with _REQUESTS:
            response = self._app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are not logged; errors still are."""


@dataclass
class EmbeddedStore:
    """A running moto server. `endpoint` is its URL; `stop()` shuts it down (idempotent)."""

    endpoint: str
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_moto_server(host: str = "127.0.0.1", port: int = 0) -> EmbeddedStore:
    """Serve moto on `host:port` (port 0: a free one) from a daemon thread; returns once it accepts requests.

    Sets no environment variables: the caller decides which clients point at `EmbeddedStore.endpoint`.
    """
    app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"moto-server-{server.port}", daemon=True)
    thread.start()
    return EmbeddedStore(endpoint=f"http://{host}:{server.port}", _server=server, _thread=thread)
