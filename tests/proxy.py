"""A TCP proxy on loopback between a client and a server under test, for network faults a test can name:
cut the connection after so many bytes, flip one byte, slow the stream down, go down and come back."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time


class Proxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream>. Faults apply to the client-to-server direction."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.forwarded = 0
        """Bytes passed from clients to the server so far."""
        self.cut_at: int | None = None
        """Once `forwarded` reaches this, every connection is reset (once; then it is cleared)."""
        self.flip_at: int | None = None
        """The byte at this position of the stream is inverted (once)."""
        self.delay_s = 0.0
        """Wait this long before forwarding each block (at most 16 KiB) to the server."""
        self.cuts = 0
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and reset the open ones, as a server that died."""
        if self._listener:
            with contextlib.suppress(OSError):  # wakes the accepting thread; close alone would not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self._reset_all()

    def close(self) -> None:
        self.down()

    def _reset_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
                conn.close()
            except OSError:
                pass

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                if upstream:
                    if self.delay_s:
                        time.sleep(self.delay_s)
                    with self._lock:
                        start = self.forwarded
                        self.forwarded += len(data)
                        flip = self.flip_at
                        cut = self.cut_at
                    if flip is not None and start <= flip < start + len(data):
                        i = flip - start
                        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
                        self.flip_at = None
                    if cut is not None and start + len(data) >= cut:
                        target.sendall(data[: max(0, cut - start)])
                        self.cut_at = None
                        self.cuts += 1
                        self._reset_all()
                        return
                target.sendall(data)
        except OSError:
            return
