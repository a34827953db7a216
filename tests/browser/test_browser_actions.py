"""Actions in a real browser, on a service of their own: tokens, a silence that mutes, the audit.

The service has admin tokens configured, a real webhook receiver, and a wall-clock timeline
of samples stamped minutes ago (as tests/acceptance/test_run_process.py does), so that a new
episode of the same series can fire within seconds and show whether it was muted. The token
test acts on an alert of another service ("search", its own notification group), so either
test may run first.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Console
from tests.support.alertmanager import Sink, webhook_sink
from tests.support.procs import wait_until
from tests.support.service import Service, anomalert_run, service_config, write_config

ADMIN = "admin-tok-3c9e51"
WRITE = "write-tok-77a0d2"
SERVICE, METRIC = "checkout", "latency_p99_ms"
#: The token test's service: an alert of its own, acknowledged without quieting checkout.
OTHER = "search"
#: The same timeline on a series the silence does not match: it must notify, as a control.
CONTROL = "latency_p50_ms"
REFUSED = r"status of 40[13]"  # the browser's own console line for a refused request


# -- a service with tokens and a webhook ------------------------------------------------------


@dataclass
class Guarded:
    """The service with tokens, its webhook sink, and the first alert of the series."""

    svc: Service
    sink: Sink
    alert: dict[str, Any]
    t0: float


def sample(t: float, value: float, metric: str) -> dict[str, Any]:
    return {"metric": metric, "labels": {"service": SERVICE}, "timestamp": t, "value": value}


def push(g: Service, samples: list[dict[str, Any]]) -> None:
    r = g.post("/api/v1/samples", {"samples": samples}, token=WRITE)
    assert r.status_code == 200 and r.json()["accepted"] == len(samples), r.text


def calm(start_min: int, end_min: int, t0: float, seed: int) -> list[dict[str, Any]]:
    """Calm samples, one a minute per series, ``start_min`` to ``end_min`` minutes before t0."""
    rng = random.Random(seed)
    return [
        sample(t0 - 60.0 * m, 200.0 + rng.gauss(0.0, 5.0), metric)
        for metric in (METRIC, CONTROL)
        for m in range(start_min, end_min, -1)
    ]


def spike(start_min: int, t0: float, value: float = 2000.0) -> list[dict[str, Any]]:
    """Five minutes far above the level: long enough to notify (``notify_after`` 3m)."""
    minutes = range(start_min, start_min - 5, -1)
    return [sample(t0 - 60.0 * m, value, metric) for metric in (METRIC, CONTROL) for m in minutes]


def firing_of(
    sink: Sink, metric: str = METRIC, status: str = "firing", service: str = SERVICE
) -> list[dict[str, Any]]:
    """The alerts of one series the webhook heard about in that state, every time it did."""
    return [
        a
        for body in sink.bodies()
        for a in body["alerts"]
        if a["status"] == status
        and a["labels"].get("metric") == metric
        and a["labels"].get("service") == service
    ]


def wait_resolved_heard(g: Guarded, times: int) -> None:
    """Until every alert resolved and the control's resolve went out for the ``times``-th
    time: a new episode fired before its group heard the resolve would be deduplicated."""
    wait_until(lambda: not firing(g), 15.0, "the resolves")
    wait_until(
        lambda: len(firing_of(g.sink, CONTROL, "resolved")) >= times,
        15.0,
        "the resolve notification",
    )


def firing(g: Guarded) -> list[dict[str, Any]]:
    """Checkout's alerts firing now."""
    params = {"state": "firing", "service": SERVICE}
    rows: list[dict[str, Any]] = g.svc.get("/api/v1/alerts", params=params).json()["alerts"]
    return rows


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    """The service, with a first episode of checkout's latency that fired and notified."""
    tmp = tmp_path_factory.mktemp("guarded")
    with webhook_sink() as sink:
        server = {
            "host": "127.0.0.1",
            "max_sample_age": "1d",
            "admin_tokens": [ADMIN],
            "write_tokens": [WRITE],
        }
        # calm for two seconds (wall clock) resolves, so a second episode can follow quickly
        defaults = {"resolve_after": "2s"}
        flapping = {"max_transitions": 10}  # three episodes in minutes are not flapping here
        mapping = service_config(sink.url, server=server, defaults=defaults, flapping=flapping)
        config = write_config(tmp / "config.yaml", mapping)
        with anomalert_run(config, tmp / "service.log", db=f"sqlite:///{tmp / 'a.db'}") as svc:
            t0 = time.time()
            first = calm(300, 40, t0, seed=7) + spike(40, t0)
            other = [{**x, "labels": {"service": OTHER}} for x in first if x["metric"] == METRIC]
            push(svc, first + other)
            wait_until(
                lambda: bool(firing_of(sink) and firing_of(sink, service=OTHER)),
                15.0,
                "the first notifications",
            )
            params = {"state": "firing", "service": SERVICE}
            alerts = svc.get("/api/v1/alerts", params=params).json()["alerts"]
            alert = next(a for a in alerts if a["metric"] == METRIC)
            yield Guarded(svc, sink, alert, t0)


def test_reading_works_without_a_token_and_actions_ask_for_it(
    page: Page, guarded: Guarded, console: Console
) -> None:
    console.allow(REFUSED)
    url = guarded.svc.url
    (alert,) = guarded.svc.get("/api/v1/alerts", params={"service": OTHER}).json()["alerts"]
    page.goto(url + "/")
    expect(page.locator(f"#alerts tbody tr[data-id='{alert['id']}']")).to_be_visible()
    page.goto(url + f"/alerts/{alert['id']}")
    expect(page.locator("#chart #band")).to_be_attached()
    expect(page.locator("#token-input")).to_have_attribute("placeholder", "needed for actions")
    # no token: refused, and the page says what to do
    page.click("#btn-ack")
    flash = page.locator("#flash.error")
    expect(flash).to_contain_text("needs the admin token")
    expect(flash).to_contain_text("admin token")
    assert guarded.svc.get(f"/api/v1/alerts/{alert['id']}").json()["acknowledged_at"] is None
    # a wrong token: refused as such
    page.fill("#token-input", "not-the-token")
    page.click("#token-form button")
    page.click("#btn-helpful")
    expect(page.locator("#flash.error")).to_contain_text("not accepted")
    # the admin token: done
    page.fill("#token-input", ADMIN)
    page.click("#token-form button")
    page.click("#btn-helpful")
    expect(page.locator("#flash.ok")).to_contain_text("Feedback recorded")
    expect(page.locator("#history")).to_contain_text("marked helpful")
    page.click("#btn-ack")
    expect(page.locator("#flash.ok")).to_have_text("Acknowledged.")
    expect(page.locator("#facts")).to_contain_text("acknowledged by dashboard")
    expect(page.locator("#btn-ack")).to_be_disabled()
    page.reload()  # the token stays in this browser
    assert page.input_value("#token-input") == ADMIN


def test_a_silence_from_the_alert_page_mutes_the_next_notification(
    page: Page, guarded: Guarded
) -> None:
    """Then the audit: one timeline, so the test stands alone on any xdist worker."""
    g, alert = guarded, guarded.alert
    page.goto(g.svc.url + f"/alerts/{alert['id']}")
    page.fill("#token-input", ADMIN)
    page.click("#token-form button")
    page.click("#btn-silence")
    form = page.locator("#silence-form")
    expect(form).to_be_visible()
    names = form.locator("[name=mname]").evaluate_all("xs => xs.map(x => x.value)")
    values = form.locator("[name=mvalue]").evaluate_all("xs => xs.map(x => x.value)")
    assert dict(zip(names, values, strict=True)) == {
        "service": SERVICE,
        "metric": METRIC,
        "alertname": alert["labels"]["alertname"],
    }
    form.locator("select[name=duration]").select_option("3600")
    form.locator("[name=comment]").fill("reindexing, known")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash.ok")).to_contain_text(re.compile(r"Silence \S+ created"))
    (silence,) = g.svc.get("/api/v2/silences").json()
    assert silence["status"]["state"] == "active" and silence["comment"] == "reindexing, known"
    assert silence["createdBy"] == "dashboard"
    ends = time.mktime(time.strptime(silence["endsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert 3500 < ends - time.time() < 3700

    # the first episodes calm down and resolve; then both series spike again
    for minute in range(35, 20, -1):  # a request a minute: the last calm point comes last
        push(g.svc, calm(minute, minute - 1, g.t0, seed=minute))

    wait_resolved_heard(g, 1)
    heard = {m: len(firing_of(g.sink, m)) for m in (METRIC, CONTROL)}
    # Higher than the first: a series five hours old has learned that first spike's size
    # into its tail, and the same size again is no longer clearly out of its ordinary.
    push(g.svc, spike(19, g.t0, 10_000.0))
    wait_until(lambda: len(firing_of(g.sink, CONTROL)) > heard[CONTROL], 15.0, "the control")
    time.sleep(2.0)  # group_interval is 2 s: the silenced series would be out by now too
    (new,) = (a for a in firing(g) if a["metric"] == METRIC)
    assert new["id"] != alert["id"] and new["fingerprint"] == alert["fingerprint"]
    assert len(firing_of(g.sink, METRIC)) == heard[METRIC], "the silenced series notified"
    detail = g.svc.get(f"/api/v1/alerts/{new['id']}").json()
    assert silence["id"] in detail["muted_by"]
    assert detail["notifications"] == []
    page.goto(g.svc.url + f"/alerts/{new['id']}")
    expect(page.locator("#muted")).to_contain_text(silence["id"])
    page.goto(g.svc.url + "/silences")
    expect(page.locator(f"#current tr[data-id='{silence['id']}']")).to_contain_text(
        f'metric="{METRIC}"'
    )
    audit_flags_the_series_that_kept_notifying(page, g)


def audit_flags_the_series_that_kept_notifying(page: Page, g: Guarded) -> None:
    """The control series fires a third time, nobody acknowledges it: the weekly audit calls
    it noisy and suggests a change."""
    for minute in range(14, 9, -1):
        push(g.svc, calm(minute, minute - 1, g.t0, seed=minute))
    wait_resolved_heard(g, 2)
    before = len(firing_of(g.sink, CONTROL))
    push(g.svc, spike(9, g.t0, 50_000.0))  # higher: the engine has seen two spikes already
    wait_until(lambda: len(firing_of(g.sink, CONTROL)) > before, 15.0, "the third notification")
    audit = g.svc.get("/api/v1/reports/audit").json()
    noisy = [x for x in audit["groups"] if x["noisy"]]
    assert [x["metric"] for x in noisy] == [CONTROL], audit
    page.goto(g.svc.url + "/reports/audit")
    row = page.locator(f"#audit tr.noisy[data-metric='{CONTROL}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("noisy")
    expect(row.locator(".suggestion")).to_have_text(noisy[0]["suggestion"])
    expect(page.locator("#audit tr.noisy")).to_have_count(1)
