"""TCP fault proxy: real bytes through a real socket pair, cut when its link is down.

Used between the PostgreSQL pair (inter-region replication) and in front of each regional
PostgreSQL endpoint (clients of that region). Cutting closes live connections too.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

from drharness.lab.httpserve import reset_socket

log = logging.getLogger(__name__)


class TcpProxy:
    def __init__(
        self,
        name: str,
        listen: tuple[str, int],
        upstream: Callable[[], tuple[str, int]],
        blocked: Callable[[], bool],
        latency_s: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.blocked = blocked
        self.latency_s = latency_s or (lambda: 0.0)
        self.bytes_forwarded = 0
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{name}", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.blocked():
                reset_socket(client)
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream(), timeout=2)
        except OSError:
            reset_socket(client)
            return
        upstream.settimeout(None)
        client.settimeout(None)
        peers = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                if self.blocked():
                    break
                # Data never crosses a cut (checked per chunk below); the timeout only bounds how
                # long an idle connection lives on after one, at ~2 wake-ups/s per connection.
                ready, _, _ = select.select(list(peers), [], [], 0.5)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if self.blocked():  # checked per chunk: nothing crosses after the cut
                        return
                    delay = self.latency_s()
                    if delay > 0:
                        self._stop.wait(delay)
                    peers[s].sendall(data)
                    self.bytes_forwarded += len(data)
        except OSError:
            pass
        finally:
            reset_socket(client)
            reset_socket(upstream)
