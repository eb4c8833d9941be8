"""A one-line progress bar for long exports, drawn on stderr so the CSV on stdout stays clean."""

import time
from collections.abc import Callable

WIDTH = 30
REDRAW_SECONDS = 0.5


class ProgressBar:
    def __init__(self, *, total: int, write: Callable[[str], object], clock: Callable[[], float] = time.monotonic):
        self.total, self.write, self.clock = total, write, clock
        self.done = 0
        self.started = self.last_drawn = clock()

    def advance(self, rows: int) -> None:
        """Count ``rows`` more (a chunk of the export at a time), redrawing at most twice a second."""
        self.done += rows
        if self.clock() - self.last_drawn >= REDRAW_SECONDS:
            self.draw()

    def finish(self) -> None:
        self.draw(end="\n")

    def draw(self, end: str = "") -> None:
        self.last_drawn = now = self.clock()
        share = self.done / self.total if self.total else 1.0
        filled = round(WIDTH * min(share, 1.0))
        rate = self.done / max(now - self.started, 1e-9)
        self.write(
            f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {share:6.1%} {self.done:,}/{self.total:,} rows"
            f" {rate:,.0f} rows/s{end}"
        )
