"""Mergeable distinct-player counts for spans of several days.

A sketch of a set of players is exact while it is small: it holds the
players' 64-bit hashes themselves (up to ``EXACT_LIMIT``), and merging two
of them is a set union. A bigger set is a HyperLogLog of 2^12 registers
(standard error 1.04 / sqrt(4096) = 1.6 %), counted by linear counting
below 2.5 x 4096 (the usual small-range correction).
Merging takes the register-wise maximum, done on the registers packed into one
integer (eight bits a register) so a merge is a handful of big-integer operations.
"""

import hashlib
import math
import zlib
from collections.abc import Iterable

PRECISION = 12
REGISTERS = 1 << PRECISION
REST_BITS = 64 - PRECISION
EXACT_LIMIT = 512
EXACT, REGISTER = b"S", b"H"
# Every register's top bit set: adding it before a subtraction keeps each register's
# difference from borrowing from its neighbour (a register never exceeds 53).
_TOP = int.from_bytes(b"\x80" * REGISTERS, "big")
_LOW = int.from_bytes(b"\x7f" * REGISTERS, "big")
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def player_hash(player_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(player_id.encode(), digest_size=8).digest(), "big")


class Sketch:
    """A set of player hashes, or its registers once it has grown past ``EXACT_LIMIT``."""

    __slots__ = ("hashes", "registers")

    def __init__(self, hashes: Iterable[int] = ()):
        self.hashes: set[int] | None = set(hashes)
        self.registers = 0
        if len(self.hashes) > EXACT_LIMIT:
            self._to_registers()

    def add(self, other: "Sketch") -> None:
        if self.hashes is not None and other.hashes is not None:
            self.hashes |= other.hashes
            if len(self.hashes) > EXACT_LIMIT:
                self._to_registers()
            return
        if self.hashes is not None:
            self._to_registers()
        self.registers = _register_max(self.registers, other._registers())

    def count(self) -> int:
        if self.hashes is not None:
            return len(self.hashes)
        return _estimate(self.registers.to_bytes(REGISTERS, "big"))

    def dumps(self) -> bytes:
        if self.hashes is not None:
            return EXACT + b"".join(value.to_bytes(8, "big") for value in sorted(self.hashes))
        return REGISTER + zlib.compress(self.registers.to_bytes(REGISTERS, "big"), 1)

    @classmethod
    def loads(cls, data: bytes) -> "Sketch":
        data = bytes(data)
        sketch = cls()
        if data[:1] == EXACT:
            sketch.hashes = {int.from_bytes(data[i : i + 8], "big") for i in range(1, len(data), 8)}
        else:
            sketch.hashes, sketch.registers = None, int.from_bytes(zlib.decompress(data[1:]), "big")
        return sketch

    def _registers(self) -> int:
        if self.hashes is None:
            return self.registers
        registers = bytearray(REGISTERS)
        for value in self.hashes:
            index, rank = value >> REST_BITS, REST_BITS + 1 - (value & ((1 << REST_BITS) - 1)).bit_length()
            registers[index] = max(registers[index], rank)
        return int.from_bytes(registers, "big")

    def _to_registers(self) -> None:
        self.registers, self.hashes = self._registers(), None


def _register_max(a: int, b: int) -> int:
    at_least = ((a | _TOP) - b) & _TOP  # a register's top bit survives where a >= b
    mask = (at_least >> 7) * 0x7F
    return (a & mask) | (b & (_LOW ^ mask))


def _estimate(registers: bytes) -> int:
    counts = [registers.count(rank) for rank in range(REST_BITS + 2)]
    harmonic = sum(count * 2.0**-rank for rank, count in enumerate(counts))
    estimate = _ALPHA * REGISTERS * REGISTERS / harmonic
    if estimate <= 2.5 * REGISTERS and counts[0]:
        estimate = REGISTERS * math.log(REGISTERS / counts[0])
    return round(estimate)
