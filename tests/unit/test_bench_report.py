# ruff: noqa: E501 (the table as the report writes it)
"""``tests.bench.report``: a number of API processes not run again this time keeps its
row of the processes' table, marked as from an earlier run, however often the report
is written again."""

import pytest

from tests.bench import report

TABLE = """## Gateway (`python -m tests.bench.gateway`)

### Gateway: API processes (`--api-workers`)

Each row from its own run of the gateway benchmark, the bare server with as many processes.

| API processes | mixed load, requests/s (bare) | ratio | p50 / p99 | `POST /vacancies` p99 | cheapest request/s | floor on the loop, requests/s | mixed / floor on the loop | end to end p50 / p99 | API cores | command |
|---|---|---|---|---|---|---|---|---|---|---|
| 1 | 268 (4,980) | 0.054 | 46.3 / 187.0 ms | 233.9 ms | 1,312 | 1,539 | 0.174 | 144.9 / 475.9 ms | 0.75 | `one` |
| 2 | 407 (5,571) | 0.073 | 28.7 / 156.1 ms | 217.8 ms | 1,955 | 2,318 | 0.175 | 106.0 / 209.3 ms | 0.96 | `two` |
"""


def test_rows_not_run_again_are_kept_marked_once(tmp_path, monkeypatch):
    out = tmp_path / "performance.md"
    out.write_text(TABLE)
    monkeypatch.setattr(report, "OUT", out)
    monkeypatch.setattr(report, "BENCH", tmp_path / "bench")  # no run this time
    for _ in range(2):  # written again from its own output: nothing doubles or goes
        section = report.api_processes_section()
        out.write_text("\n".join(section))
        rows = [line for line in section if line.startswith("| 1") or line.startswith("| 2")]
        assert [r.split("|")[1].strip() for r in rows] == ["1 (an earlier run)",
                                                            "2 (an earlier run)"]
        assert rows[0].endswith("| 0.75 | `one` |") and "| 407 (5,571) |" in rows[1]


def test_a_restart_row_says_whether_the_matcher_was_a_static_group_member():
    row = {"after_rounds": 1, "seconds_to_first_proposal": 3.2,
           "changelog_records_written": 10, "phases": {"joined": 0.9, "stages": []}}
    static = report._restart_rows({"store": "default", "membership": "static",
                                   "rounds": [row]})
    dynamic = report._restart_rows({"store": "default", "rounds": [row]})
    assert "(default store, a static group member), after 1 round(s)" in static[0]
    assert "its partitions handed back" in static[2]
    assert "(default store), after 1 round(s)" in dynamic[0]
    assert "the dead member dropped" in dynamic[2]


def test_memory_says_what_the_workers_add_above_a_started_matcher_holding_nothing():
    mem = {"peak_rss_mib": 777.0, "idle_rss_mib": 75.0, "per_100k_workers_mib": 351.0,
           "ready_rss_mib": 231.0, "per_100k_above_ready_mib": 273.0}
    [row] = report._ready_rows(mem, 200_000)
    assert "a started matcher holding nothing (231 MiB, on empty topics)" in row
    assert "| 273 MiB per 100,000 workers (546 MiB for 200,000) |" in row
    # a run from before the ready base was measured has no such row
    assert report._ready_rows({k: mem[k] for k in list(mem)[:3]}, 200_000) == []


def test_the_latency_run_says_whether_the_matcher_kept_up_with_the_rate():
    lat = {"events_per_second": 100, "first_third_p50_ms": 60.0, "last_third_p50_ms": 2900.0,
           "unread_at_end": 1450, "pace_eps": 71.4}
    queued, pace = report._kept_up_rows(lat)
    assert "| 60 / 2,900 ms; 1,450 |" in queued
    assert "| 71 events/s | 100 events/s (the rate sent) | 0.71 |" in pace
    # a run that never caught up within the wait, and one from before these figures
    assert "| n/a events/s |" in report._kept_up_rows({**lat, "pace_eps": None})[1]
    assert report._kept_up_rows({"events_per_second": 100}) == []


def test_the_trend_splits_the_delays_by_when_the_vacancy_was_sent():
    from tests.bench.matcher import _trend

    sent = {f"v{i}": 100.0 + i for i in range(9)}  # one a second for 9 s
    seen = {k: t + (0.05 if t < 103 else 2.0) for k, t in sent.items() if k != "v8"}
    trend = _trend(sent, seen, start=100.0, seconds=9.0)
    assert trend == {"first_third_p50_ms": pytest.approx(50.0),
                     "last_third_p50_ms": pytest.approx(2000.0)}


def test_the_gateway_on_postgresql_keeps_its_own_section_beside_sqlite(tmp_path, monkeypatch):
    """Both gateway sections start with the word Gateway; neither run again, each is
    kept once, under its own heading, with its own figures."""
    out = tmp_path / "performance.md"
    out.write_text("# Performance\n\n## Gateway (`python -m tests.bench.gateway`)\n\n"
                   "| mixed | 404 |\n\n" + report.GATEWAY_ON_POSTGRESQL + "\n\n| mixed | 512 |\n")
    monkeypatch.setattr(report, "OUT", out)
    monkeypatch.setattr(report, "BENCH", tmp_path / "bench")  # no run this time
    for _ in range(2):
        out.write_text(report.render())
        text = out.read_text()
        sqlite, postgres = text.split(report.GATEWAY_ON_POSTGRESQL)
        assert "| mixed | 404 |" in sqlite and "512" not in sqlite
        assert "| mixed | 512 |" in postgres and "404" not in postgres
        assert text.count(report.KEPT) == 2
