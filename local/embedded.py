"""The embedded store: moto's DynamoDB (and Streams, S3, SQS) served over HTTP from a thread of this process.

Clients reach it like any AWS endpoint, so the same boto3 code runs against it, DynamoDB Local and AWS.
It is moto's `ThreadedMotoServer` put together from the same public parts (moto's WSGI app on werkzeug's
threaded server), with three differences: it binds port 0 by default and reports the port it got, it does not
log every request to stderr, and it answers one request at a time.

One at a time, because moto's backends are plain Python objects without locks: a TransactWriteItems deep-copies
every table it touches (to roll back on failure) and a Query iterates a table's dicts, so a write served on
another thread meanwhile fails them with ``dictionary changed size during iteration``. `_OneAtATime` wraps
moto's app (composition: moto itself runs as it ships) and holds one process-wide lock for each request, since
moto keeps its data in process-global backends: two embedded stores in one process share one set of tables,
and leaving a `mock_aws()` block in the same process resets them. The server stays threaded, so connections
are still accepted while a request is served; requests simply queue. Nothing in the stack long-polls (no SQS
ReceiveMessage waits), so a request never holds the lock while waiting for another one.

moto's TransactWriteItems costs one copy of each touched table per item of the transaction, so it slows down
as tables grow: the test suite gives each test fresh tables on moto (``tests/conftest.py``), and `make serve`
runs on Amazon DynamoDB Local unless ``USAGE_LOCAL_STORE=moto`` (``local/serve.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

#: one for every embedded store of the process: moto's backends are process-global
_REQUEST_LOCK = threading.Lock()


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are not logged; errors still are."""


class _OneAtATime:
    """WSGI middleware: the wrapped app serves one request at a time, body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]], lock: threading.Lock = _REQUEST_LOCK) -> None:
        self.app = app
        self.lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


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
