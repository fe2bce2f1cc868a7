"""A TCP forwarder between the server and PostgreSQL that a test can cut or stall.

It listens on ``127.0.0.1:<port>`` and forwards each connection to a Unix
socket (the dedicated PostgreSQL's) or a TCP address, on an asyncio loop in its
own thread. The link has three states:

* open: bytes flow both ways;
* stalled (:meth:`Proxy.stall`): connections stay open, new ones are accepted,
  but nothing is forwarded: a silent network partition, where neither side
  gets an error and TCP keepalives still succeed (the proxy's kernel answers
  them). What was held back flows on :meth:`Proxy.heal`;
* down (:meth:`Proxy.cut` with ``refuse=True``): every connection is reset and
  new ones are reset at once, like a host that went away and came back empty.

``cut()`` without ``refuse`` resets the connections but keeps accepting new
ones: a load balancer or NAT dropping its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 64 * 1024


class State(enum.Enum):
    OPEN = "open"
    STALLED = "stalled"
    DOWN = "down"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0) when it is a TCP socket, so the peer sees an error, not an orderly end."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxy:
    """``Proxy(target)``: target is a Unix socket path or a ``(host, port)``; use as a context manager."""

    def __init__(self, target: Path | tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.state = State.OPEN
        #: Connections accepted so far (a reconnecting pool shows up here).
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control, from any thread ---------------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._start())
        return self

    def stall(self) -> None:
        """Stop forwarding (existing and new connections), keeping every connection open."""
        self._call(self._set(State.STALLED))

    def cut(self, *, refuse: bool = False) -> None:
        """Reset every connection; with ``refuse``, reset new ones too until :meth:`heal`."""
        self._call(self._cut(refuse))

    def heal(self) -> None:
        """Forward again; what a stall held back is delivered."""
        self._call(self._set(State.OPEN))

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # -- on the proxy's loop ----------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set(self, state: State) -> None:
        assert self._flowing is not None
        self.state = state
        if state is State.OPEN:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _cut(self, refuse: bool) -> None:
        await self._set(State.DOWN if refuse else State.OPEN)
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _close(self) -> None:
        await self._cut(refuse=True)
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        self.accepted += 1
        if self.state is State.DOWN:
            _reset(writer)
            return
        self._writers.add(writer)
        try:
            # A stalled link does not even reach the database: the connection attempt hangs.
            await self._flowing.wait()
            if isinstance(self.target, Path):
                up_reader, up_writer = await asyncio.open_unix_connection(str(self.target))
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            self._writers.discard(writer)
            _reset(writer)
            return
        if writer not in self._writers:  # cut while connecting
            _reset(up_writer)
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, (writer, up_writer)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        assert self._flowing is not None
        try:
            while True:
                data = await source.read(CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                if sink not in self._writers:
                    break
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            # One side ended (or was cut): end the other, as a real connection would.
            for end in pair:
                if end in self._writers:
                    self._writers.discard(end)
                    _reset(end)
