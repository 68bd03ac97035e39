"""The load report's arithmetic: percentiles, windows of a run, access logs, CPU, the Markdown."""

from datetime import UTC, datetime

import pytest

from insights.loadtest import report


def snapshot(t, times, *, requests=None, failures=0, think=5.0, per_name=None, wall=None):
    """A cumulative snapshot as the locustfile writes it (JSON turns the keys into text)."""
    times = {str(ms): n for ms, n in times.items()}
    return {
        "t": t,
        "wall": 1_000_000 + t if wall is None else wall,
        "think": think,
        "requests": sum(times.values()) if requests is None else requests,
        "failures": failures,
        "times": times,
        "per_name": per_name or {},
    }


def test_a_percentile_is_the_time_that_share_of_requests_finished_within():
    histogram = {10: 51, 20: 40, 100: 8, 900: 1}

    assert report.percentile(histogram, 0.50) == 10
    assert report.percentile(histogram, 0.90) == 20
    assert report.percentile(histogram, 0.95) == 100
    assert report.percentile(histogram, 1.0) == 900


def test_a_percentile_on_a_boundary_rounds_up_as_locust_does():
    # exactly half the requests took 10 ms: locust calls the median 20, and so do we
    assert report.percentile({10: 50, 20: 50}, 0.50) == 20
    # of 100 requests, the 99th percentile is the slowest one
    assert report.percentile({10: 99, 900: 1}, 0.99) == 900


def test_a_percentile_reads_histograms_with_text_keys_and_empty_ones():
    assert report.percentile({"30": 1, "7": 3}, 0.5) == 7
    assert report.percentile({}, 0.95) == 0


def test_subtracting_cumulative_histograms_leaves_what_happened_between():
    later = {"10": 5, "20": 3, "30": 1}
    earlier = {"10": 2, "20": 3}

    assert report.subtract(later, earlier) == {10: 3, 30: 1}


def test_a_window_counts_only_requests_between_its_snapshots():
    snaps = [
        snapshot(0, {}),
        snapshot(10, {1000: 10}, failures=1),  # the slow logins' time, before the window
        snapshot(20, {1000: 10, 50: 30}, failures=1),
        snapshot(30, {1000: 10, 50: 60, 80: 10}, failures=2),
    ]

    win = report.window(snaps, 10, 30)

    assert win.requests == 70
    assert win.failures == 1
    assert win.histogram == {50: 60, 80: 10}
    assert win.p(0.5) == 50
    assert win.rps == pytest.approx(3.5)
    assert win.wall_start == 1_000_010
    assert win.wall_end == 1_000_030


def test_a_window_splits_the_figures_per_endpoint():
    first = {"history": {"requests": 4, "failures": 0, "times": {"40": 4}}}
    last = {
        "history": {"requests": 10, "failures": 1, "times": {"40": 8, "90": 2}},
        "pantry": {"requests": 3, "failures": 0, "times": {"20": 3}},
    }
    snaps = [
        snapshot(0, {40: 4}, per_name=first),
        snapshot(5, {40: 8, 90: 2, 20: 3}, per_name=last),
    ]

    win = report.window(snaps, 0, 5)

    assert win.per_name["history"].requests == 6
    assert win.per_name["history"].failures == 1
    assert win.per_name["history"].histogram == {40: 4, 90: 2}
    assert win.per_name["pantry"].requests == 3


def test_pace_steps_leave_out_each_steps_first_and_last_seconds():
    # 10 s of logins, then two 30 s steps; a snapshot every 5 s with 10 more requests each
    snaps = [snapshot(t, {10: t}) for t in range(0, 75, 5)]

    steps = report.pace_steps(snaps, ramp=10, steps=[(5.0, 30), (1.0, 30)])

    assert [(s.start, s.end) for s in steps] == [(15, 35), (45, 65)]
    assert [s.think for s in steps] == [5.0, 1.0]
    assert steps[0].requests == 20


LOG = [
    "[2026-12-04 20:00:00 +0000] [1] [INFO] Booting worker with pid: 12",
    '[04/Dec/2026:20:00:01 +0000] "history" 200 41250',
    '[04/Dec/2026:20:00:02 +0000] "history" 200 88999',
    '[04/Dec/2026:20:00:02 +0000] "pantry" 500 1500000',
    '[04/Dec/2026:20:00:09 +0000] "history" 200 12000',
    '[04/Dec/2026:20:00:03 +0000] "-" 200 900',
]


def test_the_access_log_is_read_in_the_benchs_format_and_chatter_is_skipped():
    served = report.parse_access_log(LOG)

    assert len(served) == 5
    first = served[0]
    assert first.name == "history"
    assert first.status == 200
    assert first.ms == pytest.approx(41.25)
    assert first.at == datetime(2026, 12, 4, 20, 0, 1, tzinfo=UTC).timestamp()


def test_server_side_figures_per_endpoint_cover_only_the_window_and_count_server_errors():
    served = report.parse_access_log(LOG)
    start = datetime(2026, 12, 4, 20, 0, 0, tzinfo=UTC).timestamp()

    windows = report.server_side(served, start, start + 5)

    assert set(windows) == {"history", "pantry", "-"}
    assert windows["history"].requests == 2
    assert windows["history"].histogram == {41: 1, 89: 1}
    assert windows["pantry"].failures == 1
    assert windows["pantry"].histogram == {1500: 1}


def sample(at, groups, busy, load=1.0):
    return {"at": at, "groups": groups, "busy": busy, "load": (load, 0.0, 0.0)}


def test_cpu_in_a_window_adds_each_processs_growth_and_a_new_process_from_zero():
    samples = [
        sample(0, {"gunicorn": {1: 10.0, 2: 5.0}}, busy=100),
        sample(2, {"gunicorn": {1: 11.0, 2: 5.5}}, busy=103),
        sample(4, {"gunicorn": {1: 12.0, 3: 0.25}}, busy=106, load=3.0),  # 2 gone, 3 new
        sample(6, {"gunicorn": {1: 20.0}}, busy=200),  # outside the window
    ]

    assert report.cpu_in_window(samples, "gunicorn", 0, 4) == pytest.approx(1.5 + 1.25)
    assert report.cpu_in_window(samples, "postgres", 0, 4) == 0
    assert report.machine_in_window(samples, 0, 4) == (6, 4)
    assert report.load_averages(samples, 0, 4) == (1.0, pytest.approx(5 / 3), 3.0)


def test_peak_memory_is_the_largest_process_and_the_largest_sum_in_the_window():
    samples = [
        {"at": 0, "rss": {"gunicorn": {1: 100, 2: 300}}},
        {"at": 2, "rss": {"gunicorn": {1: 250, 2: 200}}},
        {"at": 9, "rss": {"gunicorn": {1: 900}}},  # outside the window
    ]

    assert report.peak_rss(samples, "gunicorn", 0, 5) == {"process": 300, "group": 450}
    assert report.peak_rss(samples, "postgres", 0, 5) == {"process": 0, "group": 0}


def results(**main_overrides):
    win = {
        "seconds": 300,
        "requests": 6000,
        "failures": 3,
        "rps": 20.0,
        "p50": 45,
        "p95": 250,
        "p99": 700,
        "max": 1200,
        "think": 5.0,
    }
    main = {
        "whole": dict(win, p95=420),
        "steady": win,
        "endpoints": [dict(win, name="history", server_p50=40, server_p95=200, server_p99=600)],
        "logins": [
            {
                "name": "login: submit",
                "requests": 100,
                "failures": 0,
                "p50": "900",
                "p95": "2000",
                "max": 2500,
            }
        ],
        "cpu": {
            "gunicorn": 180.0,
            "postgres": 60.0,
            "locust": 30.0,
            "machine_busy": 400.0,
            "wall": 300.0,
        },
        "load": (1.5, 2.0, 2.5),
    }
    main.update(main_overrides)
    pages = {
        "email": "demo-1@kvitto.example",
        "lines": 4000,
        "runs": 7,
        "pages": [
            {
                "name": "history",
                "queries": 8,
                "sql_ms": 3.0,
                "wall_ms": 30.0,
                "cpu_ms": 25.0,
                "kib": 20,
            }
        ],
    }
    return {
        "started": "2026-12-04T20:00:00+00:00",
        "commit": "abc1234",
        "command": "manage.py bench_load",
        "cores": 2,
        "load_before": 1.2,
        "database": "kvitto_load",
        "autovacuum": "off",
        "server": {"workers": 3, "threads": 2, "broker": "redis://127.0.0.1:6379/7"},
        "demo": {"households": 2469, "orders": 155518, "lines": 1460438, "derived": "some rows"},
        "users": 100,
        "spawn_rate": 1.0,
        "think": 5.0,
        "seconds": 400,
        "ramp": 100.0,
        "shoppers": {"lines_min": 3, "lines_median": 400, "lines_max": 4189},
        "main": main,
        "capacity": [dict(win, cpu=main["cpu"], load=(2.0, 2.0, 2.0))],
        "pages_heavy": pages,
        "pages_median": pages,
        "tables": [],
        "profile": {},
        "files": ["load-report.md"],
    }


def test_the_report_marks_the_targets_met_and_missed_for_each_window():
    text = report.render(results())

    assert "| steady (all logged in) | 6,000 | 20.0 | 45 ms | 250 ms | 700 ms | 0.05% |" in text
    assert "| whole run (with logins) | 6,000 | 20.0 | 45 ms | 420 ms ✗ | 700 ms | 0.05% |" in text


def test_the_report_gives_cpu_per_request_for_server_and_database():
    text = report.render(results())

    # 180 CPU s over 6,000 requests; 180 of 600 core-seconds
    assert "| gunicorn workers | 180.0 | 30 % | 30.0 |" in text
    assert "| PostgreSQL backends (this database) | 60.0 | 10 % | 10.0 |" in text
    # the machine's other 130 s are someone else's
    assert "| everything else on the machine | 130.0 | 22 % |  |" in text


def test_the_report_flags_errors_over_half_a_percent():
    steady = {
        "seconds": 300,
        "requests": 1000,
        "failures": 6,
        "rps": 3.3,
        "p50": 45,
        "p95": 250,
        "p99": 700,
        "max": 1200,
        "think": 5.0,
    }

    text = report.render(results(steady=steady))

    assert "| 0.60% ✗ |" in text
