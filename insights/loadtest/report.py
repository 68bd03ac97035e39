"""Pure arithmetic of the load report: percentiles, windows of a run, access logs, verdicts.

Nothing here touches Django, the database or the clock, so it is tested on small made-up
inputs. Response-time histograms are locust's: {milliseconds (rounded): count}.
"""

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# The targets for the browsing requests (login excluded).
TARGETS = {"p50": 100, "p95": 300, "p99": 1000}
MAX_ERROR_RATE = 0.005


def percentile(histogram: Mapping[int | str, int], fraction: float) -> int:
    """The response time (ms) that `fraction` of the requests finished within.

    The rule locust uses for its own tables, so our windows and its CSV agree: walk down
    from the slowest until no more than `fraction` of the requests are left.
    """
    counts = {int(ms): n for ms, n in histogram.items() if n}
    total = sum(counts.values())
    if not total:
        return 0
    keep = int(total * fraction)
    seen = 0
    for ms in sorted(counts, reverse=True):
        seen += counts[ms]
        if total - seen <= keep:
            return ms
    return 0


def subtract(later: Mapping[int | str, int], earlier: Mapping[int | str, int]) -> dict[int, int]:
    """The histogram of what happened between two cumulative histograms."""
    before = {int(ms): n for ms, n in earlier.items()}
    out: dict[int, int] = {}
    for ms, n in later.items():
        diff = n - before.get(int(ms), 0)
        if diff:
            out[int(ms)] = diff
    return out


@dataclass
class Window:
    """Browsing requests within a stretch of a run."""

    start: float
    end: float
    requests: int
    failures: int
    histogram: dict[int, int]
    per_name: dict[str, "Window"] = field(default_factory=dict)
    think: float = 0.0
    wall_start: float = 0.0
    wall_end: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def p(self, fraction: float) -> int:
        return percentile(self.histogram, fraction)


def _nearest(snapshots: list[dict], t: float) -> dict:
    return min(snapshots, key=lambda s: abs(s["t"] - t))


def window(snapshots: list[dict], start: float, end: float) -> Window:
    """What the snapshots (cumulative, every few seconds) say about [start, end] in run time."""
    first, last = _nearest(snapshots, start), _nearest(snapshots, end)
    per_name = {}
    for name, entry in last["per_name"].items():
        before = first["per_name"].get(name, {"requests": 0, "failures": 0, "times": {}})
        per_name[name] = Window(
            start=first["t"],
            end=last["t"],
            requests=entry["requests"] - before["requests"],
            failures=entry["failures"] - before["failures"],
            histogram=subtract(entry["times"], before["times"]),
        )
    return Window(
        start=first["t"],
        end=last["t"],
        requests=last["requests"] - first["requests"],
        failures=last["failures"] - first["failures"],
        histogram=subtract(last["times"], first["times"]),
        per_name=per_name,
        think=last.get("think", 0.0),
        wall_start=first.get("wall", 0.0),
        wall_end=last.get("wall", 0.0),
    )


def pace_steps(
    snapshots: list[dict], ramp: float, steps: list[tuple[float, float]]
) -> list[Window]:
    """One window per step of a pace ladder; the first and last 5 s of each step are dropped
    so a step's figures do not carry the previous step's queue."""
    out = []
    at = ramp
    for mean, seconds in steps:
        win = window(snapshots, at + 5, at + seconds - 5)
        win.think = mean
        out.append(win)
        at += seconds
    return out


# -- gunicorn's access log ---------------------------------------------------------------

# The format the bench gives gunicorn: time, the X-Bench-Name header, status, microseconds.
ACCESS_FORMAT = '%(t)s "%({x-bench-name}i)s" %(s)s %(D)s'
_ACCESS_LINE = re.compile(r'^\[(?P<t>[^\]]+)\] "(?P<name>[^"]*)" (?P<status>\d{3}) (?P<us>\d+)$')


@dataclass(frozen=True)
class Served:
    at: float  # epoch seconds when gunicorn logged it
    name: str
    status: int
    ms: float


def parse_access_log(lines: Iterable[str]) -> list[Served]:
    """Lines in ACCESS_FORMAT; anything else (start-up chatter) is skipped."""
    out = []
    for line in lines:
        match = _ACCESS_LINE.match(line.strip())
        if not match:
            continue
        at = datetime.strptime(match["t"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        out.append(Served(at, match["name"], int(match["status"]), int(match["us"]) / 1000))
    return out


def server_side(served: Iterable[Served], start: float, end: float) -> dict[str, Window]:
    """Per endpoint name, gunicorn's own time to answer (queueing before accept excluded)."""
    hist: dict[str, dict[int, int]] = {}
    errors: dict[str, int] = {}
    for row in served:
        if not start <= row.at <= end:
            continue
        bucket = hist.setdefault(row.name or "(unnamed)", {})
        ms = _round_ms(row.ms)
        bucket[ms] = bucket.get(ms, 0) + 1
        if row.status >= 500:
            errors[row.name] = errors.get(row.name, 0) + 1
    return {
        name: Window(start, end, sum(h.values()), errors.get(name, 0), h)
        for name, h in sorted(hist.items())
    }


def _round_ms(ms: float) -> int:
    """Locust's rounding, so server and client histograms have the same buckets."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


# -- locust's CSV ------------------------------------------------------------------------


def read_locust_stats(path: Path) -> list[dict[str, str]]:
    """Rows of locust's `<prefix>_stats.csv` (one per endpoint, then 'Aggregated')."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- CPU ---------------------------------------------------------------------------------


def cpu_in_window(samples: list[dict], group: str, start: float, end: float) -> float:
    """CPU seconds a group of processes used between two wall-clock times.

    `samples` are {"at": epoch, "groups": {group: {pid: cpu seconds}}, ...}, taken every
    few seconds. A process first seen in a sample counts from zero (it started in the
    interval); one gone from a sample loses its last interval (at most one sample's worth).
    """
    used = 0.0
    inside = [s for s in samples if start <= s["at"] <= end]
    for before, after in zip(inside, inside[1:], strict=False):
        old = before["groups"].get(group, {})
        for pid, cpu in after["groups"].get(group, {}).items():
            used += cpu - old.get(pid, 0.0)
    return used


def machine_in_window(samples: list[dict], start: float, end: float) -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, wall seconds) between two times."""
    inside = [s for s in samples if start <= s["at"] <= end]
    if len(inside) < 2:
        return 0.0, 0.0
    return inside[-1]["busy"] - inside[0]["busy"], inside[-1]["at"] - inside[0]["at"]


def peak_rss(samples: list[dict], group: str, start: float, end: float) -> dict[str, int]:
    """The largest resident memory (bytes) of one process of the group, and of the group."""
    one = whole = 0
    for s in samples:
        if start <= s["at"] <= end:
            sizes = s.get("rss", {}).get(group, {}).values()
            one = max(one, max(sizes, default=0))
            whole = max(whole, sum(sizes))
    return {"process": one, "group": whole}


def load_averages(samples: list[dict], start: float, end: float) -> tuple[float, float, float]:
    """(lowest, mean, highest) one-minute load average sampled between two times."""
    values = [s["load"][0] for s in samples if start <= s["at"] <= end]
    if not values:
        return 0.0, 0.0, 0.0
    return min(values), sum(values) / len(values), max(values)


# -- the report ----------------------------------------------------------------------------


def summary(win: Window) -> dict:
    """A window as plain numbers (for the JSON results and the tables)."""
    return {
        "seconds": round(win.seconds, 1),
        "requests": win.requests,
        "failures": win.failures,
        "rps": round(win.rps, 2),
        "p50": win.p(0.50),
        "p95": win.p(0.95),
        "p99": win.p(0.99),
        "max": max(win.histogram, default=0),
        "think": win.think,
    }


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: Iterable[Iterable[object]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    return [_row(header), _row(align), *(_row(r) for r in rows)]


def _ms_per(seconds: float, requests: int) -> str:
    return f"{seconds / requests * 1000:.1f}" if requests else "–"


def _pct(seconds: float, wall: float) -> str:
    return f"{seconds / wall * 100:.0f} %" if wall else "–"


def render(results: dict) -> str:
    """The Markdown report of one `bench_load` run, from its JSON results."""
    main = results["main"]
    steady = main["steady"]
    lines = [
        "# Load test",
        "",
        f"Run {results['started']} on commit `{results['commit']}`: `{results['command']}`.",
        "",
        f"- Machine: {results['cores']} cores; one-minute load average "
        f"{results['load_before']:.2f} before the run, "
        f"{main['load'][0]:.2f}–{main['load'][2]:.2f} (mean {main['load'][1]:.2f}) during the "
        "steady part.",
        f"- Server: gunicorn, {results['server']['workers']} workers × "
        f"{results['server']['threads']} threads, DEBUG off, whitenoise static files, "
        f"PostgreSQL database `{results['database']}`, Celery broker "
        f"`{results['server']['broker']}`.",
        f"- Data: {results['demo']['households']:,} households, "
        f"{results['demo']['orders']:,} orders, {results['demo']['lines']:,} order lines; "
        f"derived rows: {results['demo']['derived']}.",
        f"- Shoppers: {results['users']} simulated, each a different demo login "
        f"({results['shoppers']['lines_min']:,}–{results['shoppers']['lines_max']:,} order "
        f"lines, median {results['shoppers']['lines_median']:,}), logging in through the form "
        f"at {results['spawn_rate']:g} a second, then reading each page for "
        f"{0.4 * results['think']:g}–{1.6 * results['think']:g} s (mean {results['think']:g} s).",
        f"- PostgreSQL: statistics refreshed with ANALYZE before measuring (autovacuum on this "
        f"server: {results.get('autovacuum', 'unknown')}).",
        f"- Length: {results['seconds']} s, of which the first {results['ramp']:.0f} s are the "
        f"logins; 'steady' is the {steady['seconds']:.0f} s after them.",
        "",
        "## Targets (browsing requests; logins apart)",
        "",
    ]
    target_rows = []
    for label, key in (("steady (all logged in)", "steady"), ("whole run (with logins)", "whole")):
        win = main[key]
        ok = [
            win["p50"] < TARGETS["p50"],
            win["p95"] < TARGETS["p95"],
            win["p99"] < TARGETS["p99"],
            win["failures"] / max(win["requests"], 1) < MAX_ERROR_RATE,
        ]
        target_rows.append(
            [
                label,
                f"{win['requests']:,}",
                f"{win['rps']:.1f}",
                _mark(win["p50"], ok[0]),
                _mark(win["p95"], ok[1]),
                _mark(win["p99"], ok[2]),
                f"{win['failures'] / max(win['requests'], 1):.2%}" + ("" if ok[3] else " ✗"),
            ]
        )
    lines += _table(
        [
            "window",
            "requests",
            "req/s",
            "p50 < 100 ms",
            "p95 < 300 ms",
            "p99 < 1 s",
            "errors < 0.5 %",
        ],
        target_rows,
    )
    lines += [
        "",
        "## Per endpoint (steady part)",
        "",
        "Client: what locust saw (includes waiting for a free worker). Server: gunicorn's own "
        "time for the same requests (its access log), from reading the request to writing the "
        "response.",
        "",
    ]
    lines += _table(
        [
            "endpoint",
            "requests",
            "fails",
            "p50",
            "p95",
            "p99",
            "max",
            "server p50",
            "server p95",
            "server p99",
        ],
        (
            [
                e["name"],
                f"{e['requests']:,}",
                e["failures"],
                e["p50"],
                e["p95"],
                e["p99"],
                e["max"],
                e.get("server_p50", "–"),
                e.get("server_p95", "–"),
                e.get("server_p99", "–"),
            ]
            for e in main["endpoints"]
        ),
    )
    lines += ["", "Logins (once per shopper, during the ramp; whole run, from locust's CSV):", ""]
    lines += _table(
        ["request", "count", "fails", "p50", "p95", "max"],
        (
            [r["name"], r["requests"], r["failures"], r["p50"], r["p95"], r["max"]]
            for r in main["logins"]
        ),
    )
    cpu = main["cpu"]
    n = steady["requests"]
    others = cpu["machine_busy"] - cpu["gunicorn"] - cpu["postgres"] - cpu["locust"]
    lines += [
        "",
        "## Where the time goes",
        "",
        f"CPU over the steady part ({cpu['wall']:.0f} s wall, {n:,} browsing requests):",
        "",
    ]
    lines += _table(
        [
            "who",
            "CPU s",
            "share of 2 cores" if results["cores"] == 2 else "share of the machine",
            "CPU ms per request",
        ],
        [
            [
                "gunicorn workers",
                f"{cpu['gunicorn']:.1f}",
                _pct(cpu["gunicorn"], cpu["wall"] * results["cores"]),
                _ms_per(cpu["gunicorn"], n),
            ],
            [
                "PostgreSQL backends (this database)",
                f"{cpu['postgres']:.1f}",
                _pct(cpu["postgres"], cpu["wall"] * results["cores"]),
                _ms_per(cpu["postgres"], n),
            ],
            [
                "locust (the load generator)",
                f"{cpu['locust']:.1f}",
                _pct(cpu["locust"], cpu["wall"] * results["cores"]),
                _ms_per(cpu["locust"], n),
            ],
            [
                "everything else on the machine",
                f"{max(others, 0):.1f}",
                _pct(max(others, 0), cpu["wall"] * results["cores"]),
                "",
            ],
        ],
    )
    if main.get("rss"):
        rss = main["rss"]
        lines += [
            "",
            f"Memory at its peak: gunicorn {rss['gunicorn']['group'] / 2**20:,.0f} MiB in all "
            f"(the largest worker {rss['gunicorn']['process'] / 2**20:,.0f} MiB), the "
            f"PostgreSQL backends {rss['postgres']['group'] / 2**20:,.0f} MiB resident "
            "(shared buffers counted in each).",
        ]
    for label, key in (("heaviest", "pages_heavy"), ("median", "pages_median")):
        who = results[key]
        lines += [
            "",
            f"Each page alone, in process (Django's test client, DEBUG off), for the {label} "
            f"shopper of the run ({who['email']}, {who['lines']:,} order lines); median of "
            f"{who['runs']} requests, queries from one more:",
            "",
        ]
        lines += _table(
            ["page", "queries", "SQL ms", "Python ms", "wall ms", "CPU ms", "KiB"],
            (
                [
                    p["name"],
                    p["queries"],
                    f"{p['sql_ms']:.1f}",
                    f"{max(p['wall_ms'] - p['sql_ms'], 0):.1f}",
                    f"{p['wall_ms']:.1f}",
                    f"{p['cpu_ms']:.1f}",
                    p["kib"],
                ]
                for p in who["pages"]
            ),
        )
    if results.get("tables"):
        db = results["database_counters"]
        hits = db["blks_hit"] / max(db["blks_hit"] + db["blks_read"], 1)
        lines += [
            "",
            f"PostgreSQL during the main run: {db['xact_commit']:,} transactions, buffer cache "
            f"hit ratio {hits:.2%}, {db['tup_returned']:,} rows scanned and "
            f"{db['tup_fetched']:,} fetched. Tables read by sequential scans:",
            "",
        ]
        lines += _table(
            ["table", "rows", "seq scans", "rows read by them", "index scans"],
            (
                [
                    t["table"],
                    f"{t['rows']:,}",
                    t["seq_scan"],
                    f"{t['seq_tup_read']:,}",
                    f"{t['idx_scan']:,}",
                ]
                for t in results["tables"]
            ),
        )
        lines += ["", results.get("pg_stat_statements", "")]
    if results.get("profile"):
        prof = results["profile"]
        lines += [
            "",
            f"### Profile of the slowest page: {prof['name']} ({prof['url']})",
            "",
            f"pyinstrument over {prof['runs']} requests for {prof['email']}; full output in "
            f"`{prof['file']}` (.txt and .html). The top of it:",
            "",
            "```",
            *prof["head"],
            "```",
        ]
    if results.get("capacity"):
        lines += [
            "",
            "## Capacity: the same shoppers, reading faster",
            "",
            f"{results['users']} shoppers stay logged in while the mean think time steps down; "
            "each step's first and last 5 s are left out.",
            "",
        ]
        lines += _table(
            [
                "mean think s",
                "req/s",
                "p50",
                "p95",
                "p99",
                "errors",
                "gunicorn CPU",
                "PostgreSQL CPU",
                "locust CPU",
                "machine busy",
                "load avg",
            ],
            (
                [
                    f"{s['think']:g}",
                    f"{s['rps']:.1f}",
                    s["p50"],
                    s["p95"],
                    s["p99"],
                    f"{s['failures'] / max(s['requests'], 1):.2%}",
                    _pct(s["cpu"]["gunicorn"], s["cpu"]["wall"]),
                    _pct(s["cpu"]["postgres"], s["cpu"]["wall"]),
                    _pct(s["cpu"]["locust"], s["cpu"]["wall"]),
                    _pct(s["cpu"]["machine_busy"], s["cpu"]["wall"]),
                    f"{s['load'][1]:.1f}",
                ]
                for s in results["capacity"]
            ),
        )
        lines += ["", "CPU percentages are of one core (200 % = both cores busy)."]
    lines += ["", "Files: " + ", ".join(f"`{f}`" for f in results["files"]), ""]
    return "\n".join(lines)


def _mark(value: int, met: bool) -> str:
    return f"{value} ms" + ("" if met else " ✗")
