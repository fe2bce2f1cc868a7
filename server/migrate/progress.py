"""Progress on stderr: a redrawn bar on a terminal, plain timestamped lines elsewhere.

A carriage-return bar is unreadable in CI output and log files, so when stderr
is not a terminal the same numbers (rows, rate, ETA) come as one line every few
seconds instead. Hand-rolled to need no dependency.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TextIO

#: Seconds between two plain progress lines.
LINE_INTERVAL = 5.0
#: Seconds between two redraws of the bar (a faster redraw only costs CPU).
BAR_INTERVAL = 0.1


class Progress(Protocol):
    def update(self, done: int) -> None:
        """``done`` rows handled so far."""

    def finish(self, done: int) -> None:
        """The last update; ends the bar's line."""


class Silent:
    def update(self, done: int) -> None:
        pass

    def finish(self, done: int) -> None:
        pass


class _Meter:
    """Rate and ETA shared by both displays."""

    def __init__(self, label: str, total: int | None, stream: TextIO, interval: float, clock: Callable[[], float]):
        self.label = label
        self.total = total
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.shown = self.started

    def due(self) -> bool:
        now = self.clock()
        if now - self.shown < self.interval:
            return False
        self.shown = now
        return True

    def figures(self, done: int) -> tuple[str, str, str]:
        """(rows, rate, ETA) as text."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = done / elapsed
        rows = f"{done:,}" if self.total is None else f"{done:,}/{self.total:,}"
        if self.total is None or rate <= 0 or done > self.total:
            eta = "ETA --:--"
        else:
            eta = "ETA " + clock_text((self.total - done) / rate)
        return rows, f"{rate:,.0f} rows/s", eta


class Bar(_Meter):
    def __init__(self, label: str, total: int | None, stream: TextIO, clock: Callable[[], float] = time.monotonic):
        super().__init__(label, total, stream, BAR_INTERVAL, clock)

    def update(self, done: int) -> None:
        if self.due():
            self._draw(done)

    def finish(self, done: int) -> None:
        self.total = done  # the count was an estimate (blank lines, rows added meanwhile); now it is known
        self._draw(done)
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, done: int) -> None:
        rows, rate, eta = self.figures(done)
        text = f" {rows} rows  {rate}  {eta}"
        width = shutil.get_terminal_size((80, 24)).columns
        room = width - len(self.label) - len(text) - 10
        if self.total and room >= 10:
            share = min(done / self.total, 1.0)
            filled = int(share * room)
            bar = f" [{'#' * filled}{'.' * (room - filled)}] {share:4.0%}"
        else:
            bar = ""
        self.stream.write(f"\r{self.label}{bar}{text}"[: width + 1] + "\x1b[K")
        self.stream.flush()


class Lines(_Meter):
    def __init__(
        self,
        label: str,
        total: int | None,
        stream: TextIO,
        interval: float = LINE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(label, total, stream, interval, clock)

    def update(self, done: int) -> None:
        if self.due():
            self._line(done)

    def finish(self, done: int) -> None:
        self.total = done
        self._line(done)

    def _line(self, done: int) -> None:
        rows, rate, eta = self.figures(done)
        share = f" ({done / self.total:.0%})" if self.total else ""
        stamp = datetime.now().strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {self.label}: {rows} rows{share}, {rate}, {eta}\n")
        self.stream.flush()


def clock_text(seconds: float) -> str:
    """H:MM:SS, or M:SS under an hour."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def make_progress(mode: str, label: str, total: int | None, stream: TextIO) -> Progress:
    """``mode`` is ``auto`` (bar on a terminal, lines otherwise), ``bar``, ``lines`` or ``none``."""
    if mode == "none":
        return Silent()
    if mode == "bar" or (mode == "auto" and stream.isatty()):
        return Bar(label, total, stream)
    return Lines(label, total, stream)
