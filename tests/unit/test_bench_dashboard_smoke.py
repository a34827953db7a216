"""The dashboard bench on a tiny store: every read it times answers (never a speed claim)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_dashboard import run


def test_every_timed_read_answers_on_a_small_store(tmp_path: Path) -> None:
    rows = run(300, tmp_path)
    answered = {name: size for name, ms, size in rows if ms == ms}
    assert answered["first page (50)"] > 1000
    assert answered["page in the middle"] > 1000
    assert answered["one alert + context"] > 500
    assert answered["search, no match"] < 100  # an empty page, still an answer
    assert len(answered) == len(rows), [name for name, ms, _ in rows if ms != ms]
