"""Links back to the dashboard: one URL per alert episode, under any external URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from anomalert.model import Alert
from anomalert.notify.links import alert_url, dashboard_url, unix_time
from tests.support.alerts import firing_alert

T0 = 1_704_099_600.0  # 2024-01-01 09:00 UTC
PREFIXED = "https://alerts.example.com/anomalert"


def alert(starts_at: float = T0, fp: str | None = None) -> Alert:
    labels = {"alertname": "HighLatency", "service": "checkout", "severity": "P1"}
    summary = "p99 latency far above the usual"
    return firing_alert(labels, starts_at, summary=summary, score=0.97, severity="P1", fp=fp)


@pytest.mark.parametrize("base", [PREFIXED, PREFIXED + "/", f"  {PREFIXED}/ "])
def test_a_path_prefix_is_kept_and_slashes_are_not_doubled(base: str) -> None:
    a = alert()
    assert alert_url(base, a) == (
        f"{PREFIXED}/alerts/by-fingerprint/{a.fingerprint}?starts_at=1704099600"
    )
    assert dashboard_url(base) == PREFIXED


def test_without_an_external_url_there_is_no_link() -> None:
    assert alert_url("", alert()) == ""
    assert dashboard_url("") == ""


@pytest.mark.parametrize("t", [T0, T0 + 0.25, T0 + 0.123456789, 1e-3])
def test_the_start_reads_back_as_the_same_float(t: float) -> None:
    query = parse_qs(urlsplit(alert_url(PREFIXED, alert(t))).query)
    assert float(query["starts_at"][0]) == t
    assert unix_time(T0) == "1704099600"


def test_a_fingerprint_is_one_path_segment_whatever_it_holds() -> None:
    url = alert_url("http://127.0.0.1:8080", alert(fp="a/b?c#d"))
    assert urlsplit(url).path == "/alerts/by-fingerprint/a%2Fb%3Fc%23d"
