"""What the bench_* commands share: the machine's load, the database's planner statistics
and its CPU time."""

import os
from pathlib import Path

from django.db import connection

# The tables the refreshes and pages read in bulk: their plans depend on statistics.
BENCH_TABLES = (
    "purchases_orderline",
    "purchases_order",
    "catalog_product",
    "catalog_category",
    "catalog_department",
    "accounts_customer",
    "accounts_consentevent",
)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs"


def backend_cpu_seconds() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, read from /proc.

    The server runs on this machine in the benchmarks; elsewhere (or on another OS) there
    is no such file and the figure is left out.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def analyze_if_unplanned() -> list[str]:
    """ANALYZE the bench tables that have no planner statistics (PostgreSQL); returns them.

    A database just bulk-loaded, or copied with `createdb -T`, has none until autovacuum
    runs (and a copy's activity counters start at zero, so autovacuum does not see it as
    changed; a server with autovacuum off never gathers them). Without statistics the
    planner guesses row counts and a one-shopper query can hash the whole catalog: the
    figures would measure the guess, not the code.
    """
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tablename FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = ANY(%s)",
            [list(BENCH_TABLES)],
        )
        planned = {row[0] for row in cursor.fetchall()}
        missing = [table for table in BENCH_TABLES if table not in planned]
        for table in missing:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return missing
