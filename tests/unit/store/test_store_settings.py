"""Runtime settings and the aggregates of the services page, the same on both backends."""

from __future__ import annotations

from collections.abc import Callable

from anomalert.model import Alert
from anomalert.store import SensitivityRow, ServiceSettingRow, Store
from anomalert.store.settings import DAY, AlertStats, day_starts

MakeAlert = Callable[..., Alert]
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
TODAY = (NOW // DAY) * DAY


def test_service_modes_are_replaced_and_cleared(store: Store) -> None:
    assert store.service_settings() == {}
    store.set_service_mode("checkout", "shadow", 10.0, "ana")
    store.set_service_mode("checkout", "assistive", 20.0, "bo")
    store.set_service_mode("search", None, 30.0, "ana")
    assert store.service_settings() == {
        "checkout": ServiceSettingRow("checkout", "assistive", 20.0, "bo"),
        "search": ServiceSettingRow("search", None, 30.0, "ana"),
    }


def test_sensitivity_rows_are_upserted_and_read_one_by_one(store: Store) -> None:
    assert store.sensitivity("checkout", "latency") is None
    first = SensitivityRow("checkout", "latency", None, 0.93, "raised", 10.0)
    store.save_sensitivity(first)
    later = SensitivityRow("checkout", "latency", 15.0, None, "at the configured", 20.0)
    store.save_sensitivity(later)
    other = SensitivityRow("search", "qps", None, 0.91, "raised", 20.0)
    store.save_sensitivity(other)
    assert store.sensitivity("checkout", "latency") == later
    assert store.sensitivities() == [later, other]
    assert store.sensitivities("search") == [other]


def test_feedback_counts_group_by_service_and_metric(store: Store, make_alert: MakeAlert) -> None:
    lat = store.upsert_alert(make_alert(metric="latency"))
    cpu = store.upsert_alert(make_alert(metric="cpu"))
    rule = store.upsert_alert(make_alert(metric="latency", starts_at=2000.0, source="rule"))
    other = store.upsert_alert(make_alert(service="search", metric="qps"))
    for alert_id, t, helpful in [
        (lat, 10.0, False),
        (lat, 20.0, False),
        (lat, 30.0, True),
        (cpu, 30.0, True),
        (rule, 40.0, False),
        (other, 50.0, True),
    ]:
        store.add_feedback(alert_id, t, helpful, "")
    assert store.feedback_counts() == {
        ("checkout", "latency"): (1, 3),
        ("checkout", "cpu"): (1, 0),
        ("search", "qps"): (1, 0),
    }
    assert store.feedback_counts(service="checkout", metric="latency", source="anomaly") == {
        ("checkout", "latency"): (1, 2)
    }
    assert store.feedback_counts(service="checkout", metric="latency", since=10.0) == {
        ("checkout", "latency"): (1, 2)
    }
    assert store.feedback_counts(service="checkout", since=35.0, source="anomaly") == {}


def test_alert_stats_count_per_day_firing_and_last_week(
    store: Store, make_alert: MakeAlert
) -> None:
    starts = [
        TODAY + 60.0,  # today
        TODAY - 1.0,  # the last second of yesterday
        TODAY - 3 * DAY + 10.0,
        TODAY - 13 * DAY,  # the first second of the oldest day shown
        TODAY - 13 * DAY - 1.0,  # before the 14 days: counted in total only
    ]
    for i, t in enumerate(starts):
        status = "firing" if i == 0 else "resolved"
        store.upsert_alert(make_alert(metric="latency", starts_at=t, status=status))
    store.upsert_alert(make_alert(metric="cpu", starts_at=TODAY - 8 * DAY))
    store.upsert_alert(make_alert(service="search", metric="qps", starts_at=TODAY))
    stats = store.alert_stats(NOW)
    assert [(s.service, s.metric) for s in stats] == [
        ("checkout", "cpu"),
        ("checkout", "latency"),
        ("search", "qps"),
    ]
    latency = stats[1]
    assert latency == AlertStats(
        "checkout",
        "latency",
        total=5,
        firing=1,
        last_7d=3,
        days=(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1),
    )
    assert stats[0].days[5] == 1 and stats[0].last_7d == 0 and stats[0].firing == 1
    assert [s.metric for s in store.alert_stats(NOW, service="search", days=3)] == ["qps"]
    assert store.alert_stats(NOW, service="search", days=3)[0].days == (0, 0, 1)
    assert store.alert_stats(NOW, service="nobody") == []


def test_day_starts_end_with_the_day_holding_now() -> None:
    days = day_starts(NOW, 14)
    assert len(days) == 14 and days[-1] == TODAY and days[0] == TODAY - 13 * DAY
