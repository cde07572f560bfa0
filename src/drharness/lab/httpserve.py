"""HTTP listeners whose region can be made unreachable: the connection is reset, as in an outage.

Every lab HTTP endpoint (region gateways, regional apps, edge, control API) runs on this, so a
region fault is felt the same way everywhere: at the TCP level, not as a polite error page.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)


def reset_socket(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) so the client sees 'connection reset', not a clean EOF."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class GatedHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

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


def serve(
    host: str, port: int, app: Callable, name: str, drop_gate: Callable[[], bool] | None = None
) -> BaseWSGIServer:
    """Start a threaded HTTP/1.1 server in a daemon thread and return it (call .shutdown())."""
    server = _Server(host, port, app, handler=GatedHandler)
    server.drop_gate = drop_gate
    t = threading.Thread(target=server.serve_forever, name=f"http-{name}", daemon=True)
    t.start()
    log.info("%s listening on http://%s:%d", name, host, port)
    return server
