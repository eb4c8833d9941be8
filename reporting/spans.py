"""Blocks of days for distinct players: any range of days is a few aligned blocks."""

import datetime as dt

# Up to 512 days: a range of at most 731 days (reporting.params) is then at most 20 blocks.
MAX_SPAN = 512


def block_start(day: dt.date, span: int) -> dt.date:
    """The first day of the block of ``span`` days (a power of two) that holds ``day``."""
    return dt.date.fromordinal(day.toordinal() - day.toordinal() % span)


def blocks_covering(first: dt.date, last: dt.date) -> list[tuple[int, dt.date]]:
    """The fewest aligned blocks (span, start) that tile first..last: each as long as its alignment allows."""
    blocks, day = [], first
    while day <= last:
        span = MAX_SPAN
        while span > 1 and (block_start(day, span) != day or day + dt.timedelta(days=span - 1) > last):
            span //= 2
        blocks.append((span, day))
        day += dt.timedelta(days=span)
    return blocks
