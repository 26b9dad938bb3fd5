"""A fake outside service on 127.0.0.1 (Twilio, Kakao): an HTTP server on a free
port in a daemon thread, started and stopped with `with`; subclasses answer each
request in `_handle(handler, method)`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5, and two dispatchers keep
    # twenty sends in flight (tests/scale/test_two_dispatchers.py). A refused SYN
    # is retried by the kernel a second or more later, and under load that may
    # outlast the client's timeout, so a message is retried (suspected, not
    # reproduced, cause of one SMS seen with two attempts). Twilio accepts more.
    request_queue_size = 128


class LocalHttpServer:
    _server: Optional[ThreadingHTTPServer] = None

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
