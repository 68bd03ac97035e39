"""PostgreSQL binary COPY of fixed-width columns built from numpy arrays, with no per-row Python.

Order lines are all numbers (ids, a timestamp, integers, numerics), so each row of the
binary COPY format has the same length and a whole batch is one numpy structured array:
the client renders nothing as text and the server parses nothing as text. Values come in
as int64 "units": ids and integers as they are, timestamps as microseconds since the Unix
epoch (UTC), a `numeric(p, s)` as the integer value x 10**s (cents for s = 2).

The format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
A numeric is sent as (ndigits, weight, sign, dscale, base-10000 digits); the server strips
leading and trailing zero digits itself (`numeric_recv` → `make_result`), so every value of
a column can use the same number of digits and the rows stay fixed-width.
"""

import re
from collections.abc import Mapping, Sequence

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# PostgreSQL counts timestamps from 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800 * 1_000_000
NUMERIC_NEG = 0x4000
_NUMERIC = re.compile(r"numeric\((\d+),\s*(\d+)\)")
_INTEGERS = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2"}


class UnsupportedColumn(ValueError):
    """A column type this encoder does not write (the caller falls back to text COPY)."""


class _Column:
    """How one database column is laid out in a binary COPY row."""

    def __init__(self, name: str, db_type: str) -> None:
        self.name = name
        self.db_type = db_type
        if db_type in _INTEGERS:
            self.kind = "int"
            self.dtype: list[tuple] = [("len", ">i4"), ("value", _INTEGERS[db_type])]
            self.size = int(_INTEGERS[db_type][-1])
        elif db_type == "timestamp with time zone":
            self.kind = "timestamptz"
            self.dtype = [("len", ">i4"), ("value", ">i8")]
            self.size = 8
        elif match := _NUMERIC.fullmatch(db_type):
            precision, scale = int(match[1]), int(match[2])
            if scale > 4:
                raise UnsupportedColumn(f"{name}: {db_type} (scale above 4)")
            self.kind = "numeric"
            self.scale = scale
            self.int_groups = max(1, -(-(precision - scale) // 4))
            self.ndigits = self.int_groups + (1 if scale else 0)
            self.dtype = [
                ("len", ">i4"),
                ("ndigits", ">i2"),
                ("weight", ">i2"),
                ("sign", ">u2"),
                ("dscale", ">u2"),
                ("digits", ">i2", (self.ndigits,)),
            ]
            self.size = 8 + 2 * self.ndigits
        else:
            raise UnsupportedColumn(f"{name}: {db_type}")

    def fill(self, row: np.ndarray, units: np.ndarray) -> None:
        row["len"] = self.size
        if self.kind == "int":
            row["value"] = units
        elif self.kind == "timestamptz":
            row["value"] = units - PG_EPOCH_US
        else:
            row["ndigits"] = self.ndigits
            row["weight"] = self.int_groups - 1
            row["sign"] = np.where(units < 0, NUMERIC_NEG, 0)
            row["dscale"] = self.scale
            magnitude = np.abs(units)
            integer, fraction = np.divmod(magnitude, 10**self.scale)
            digits = np.empty((len(units), self.ndigits), dtype="int64")
            for group in range(self.int_groups):
                power = 10 ** (4 * (self.int_groups - 1 - group))
                digits[:, group] = (integer // power) % 10_000
            if self.scale:
                digits[:, -1] = fraction * 10 ** (4 - self.scale)
            row["digits"] = digits


def row_layout(columns: Sequence[tuple[str, str]]) -> list[_Column]:
    """The binary layout of (name, database type) columns; UnsupportedColumn if one has none."""
    return [_Column(name, db_type) for name, db_type in columns]


def encode(layout: Sequence[_Column], units: Mapping[str, np.ndarray]) -> bytes:
    """The rows of one COPY data block (no signature, no trailer) for equal-length arrays."""
    n = len(units[layout[0].name])
    dtype = [("nfields", ">i2")] + [(c.name, c.dtype) for c in layout]
    rows = np.empty(n, dtype=dtype)
    rows["nfields"] = len(layout)
    for column in layout:
        values = np.asarray(units[column.name], dtype="int64")
        if len(values) != n:
            raise ValueError(f"column {column.name} has {len(values)} values, not {n}")
        column.fill(rows[column.name], values)
    return rows.tobytes()
