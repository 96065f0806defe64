"""The embedded store: moto's DynamoDB (and Streams, S3, SQS) served over HTTP from a thread of this process.

Clients reach it like any AWS endpoint, so the same boto3 code runs against it, DynamoDB Local and AWS.
It is moto's `ThreadedMotoServer` put together from the same parts, with two differences: it binds
port 0 by default and reports the port it got, and it does not log every request to stderr.

moto keeps its data in process-global backends, so two embedded stores in one process share one set of
tables, and leaving a `mock_aws()` block in the same process resets them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local.moto_transactions import install as install_transactions


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
    Transactions are served per item (`local.moto_transactions`), not by copying whole tables.
    """
    install_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"moto-server-{server.port}", daemon=True)
    thread.start()
    return EmbeddedStore(endpoint=f"http://{host}:{server.port}", _server=server, _thread=thread)
