"""HTTP listeners whose region can be made unreachable: the connection is reset, as in an outage.

Every lab HTTP endpoint (region gateways, regional apps, edge, control API) runs on this, so a
region fault is felt the same way everywhere: at the TCP level, not as a polite error page.

Connections are kept alive (HTTP/1.1), as API Gateway and the AWS endpoints keep them: werkzeug's
own server closes every connection and then waits up to 10 ms for a late body, which made every
request pay a TCP handshake, a new server thread, and (in the app) a new PostgreSQL session. The
drop gate is checked on every request, so a keep-alive connection opened before a fault dies too.
"""

from __future__ import annotations

import io
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this long


def reset_socket(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) so the client sees 'connection reset', not a clean EOF."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class GatedHandler(WSGIRequestHandler):
    """A keep-alive WSGI handler: bodies are read whole (Content-Length or chunked) so the next
    request on the connection starts where it should; answers always carry their length."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        if self._dropped():
            return
        try:
            super().handle()
        except (ConnectionError, OSError):
            pass

    def parse_request(self) -> bool:
        # Checked per request so keep-alive connections opened before the fault die too.
        if self._dropped():
            return False
        return super().parse_request()

    def _dropped(self) -> bool:
        gate = getattr(self.server, "drop_gate", None)
        if gate is not None and gate():
            self.close_connection = True
            reset_socket(self.connection)
            return True
        return False

    def run_wsgi(self) -> None:
        environ = self.environ = self.make_environ()
        if environ.pop("wsgi.input_terminated", False):  # chunked: de-chunk into a plain body
            body = environ["wsgi.input"].read()
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(len(body))
        else:
            try:
                length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
            except ValueError:
                self.send_error(400, "bad Content-Length")
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        try:
            result: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # noqa: BLE001 - a crashing app is a 500, the server lives on
            log.exception("error on %s %s", self.command, self.path)
            started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            chunks[:] = [b"Internal Server Error"]
            self.close_connection = True
        self._answer(started[0], started[1], b"".join(chunks))

    def _answer(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        """Status line, headers and body in one send (two small writes cost a round of Nagle/ACK)."""
        code = int(status.split(" ", 1)[0])
        lines = [f"{self.protocol_version} {status}", f"Server: {self.version_string()}",
                 f"Date: {self.date_time_string()}"]
        has_length = False
        for k, v in headers:
            lk = k.lower()
            if lk in ("connection", "keep-alive", "transfer-encoding"):
                continue
            has_length = has_length or lk == "content-length"
            lines.append(f"{k}: {v}")
        if not has_length and not (100 <= code < 200 or code in (204, 304)) and self.command != "HEAD":
            lines.append(f"Content-Length: {len(data)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + data if self.command != "HEAD" else head)
        self.wfile.flush()

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # quiet: the lab logs what matters
        return

    def log_error(self, *args: Any) -> None:
        return


class _Server(ThreadedWSGIServer):
    daemon_threads = True
    request_queue_size = 256
    drop_gate: Callable[[], bool] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def shutdown(self) -> None:
        """Stop accepting and close the kept-alive connections too (they would outlive the listener)."""
        super().shutdown()
        self.server_close()
        with self._open_lock:
            conns = list(self._open)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(
    host: str, port: int, app: Callable, name: str, drop_gate: Callable[[], bool] | None = None
) -> BaseWSGIServer:
    """Start a threaded HTTP/1.1 keep-alive server in a daemon thread and return it (call .shutdown())."""
    server = _Server(host, port, app, handler=GatedHandler)
    server.drop_gate = drop_gate
    t = threading.Thread(target=server.serve_forever, name=f"http-{name}", daemon=True)
    t.start()
    log.info("%s listening on http://%s:%d", name, host, port)
    return server


