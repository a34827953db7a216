"""Services, the shadow-mode report and the audit in a real browser, on the replayed demo."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo

SERVICE = "auth"


def test_services_show_mode_thresholds_volume_and_precision(page: Page, demo: Demo) -> None:
    services = demo.get("/api/v1/services")["services"]
    page.goto(demo.url + "/services")
    cards = page.locator("section.service")
    expect(cards).to_have_count(len(services))
    for svc in services:
        card = page.locator(f"section.service[data-service='{svc['name']}']")
        expect(card.locator(".badge").first).to_have_text(svc["mode"])
        expect(card.locator("tr[data-metric]")).to_have_count(len(svc["metrics"]))
        bars = card.locator(".volume rect")
        expect(bars).to_have_count(len(svc["volume"]))
        first: dict[str, Any] = svc["metrics"][0]
        row = card.locator(f"tr[data-metric='{first['metric']}']")
        expect(row.locator(".explain")).to_have_text(first["explanation"])
    heights = page.locator(".volume rect").evaluate_all(
        "rs => rs.map(r => Number(r.getAttribute('height')))"
    )
    assert max(heights) > 20  # the busiest day is drawn tall, not flat


def test_a_mode_switch_puts_a_service_in_the_shadow_report(page: Page, demo: Demo) -> None:
    page.goto(demo.url + f"/services/{SERVICE}")
    card = page.locator(f"section.service[data-service='{SERVICE}']")
    expect(card.locator(".badge").first).to_have_text("alerting")
    card.locator("select[name=mode]").select_option("shadow")
    card.locator(".mode-switch button").click()
    expect(page.locator("#flash.ok")).to_have_text(f"{SERVICE} is now in shadow mode.")
    expect(card.locator(".badge").first).to_have_text("shadow")
    expect(card).to_contain_text("configured: alerting")
    svc = demo.get(f"/api/v1/services/{SERVICE}")
    assert svc["mode"] == "shadow" and svc["mode_changed_by"] == "dashboard"
    try:
        page.goto(demo.url + "/reports/shadow")
        row = page.locator(f"#shadow tr[data-service='{SERVICE}']")
        expect(row).to_be_visible()
        report = demo.get("/api/v1/reports/shadow")
        (mine,) = (s for s in report["services"] if s["service"] == SERVICE)
        expect(row).to_contain_text(mine["verdict"])
        expect(page.locator("#rule")).to_contain_text(report["rule"])
    finally:
        demo_put_mode(demo, "alerting")


def demo_put_mode(demo: Demo, mode: str) -> None:
    import httpx

    r = httpx.put(f"{demo.url}/api/v1/services/{SERVICE}/mode", json={"mode": mode, "by": "test"})
    assert r.status_code == 200, r.text


def test_labelled_incidents_are_entered_and_imported(page: Page, demo: Demo) -> None:
    alert = demo.get("/api/v1/alerts", service=SERVICE, severity="P1")["alerts"][-1]
    start = alert["starts_at"][:16]  # "2026-01-09T11:00" as a datetime-local value
    # The demo labels its own incidents when its data ends: count from what is there.
    (known,) = demo.get("/api/v1/reports/shadow", service=SERVICE)["services"]
    page.goto(demo.url + f"/reports/shadow?service={SERVICE}")
    expect(page.locator(f"#shadow tr[data-service='{SERVICE}']")).to_be_visible()
    form = page.locator("#incident-form")
    form.locator("[name=service]").fill(SERVICE)
    form.locator("[name=title]").fill("login outage")
    form.locator("[name=start]").fill(start)
    form.locator("[name=end]").fill(start[:11] + "23:59")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash.ok")).to_have_text("Incident added.")
    expect(page.locator("#incidents tbody")).to_contain_text("login outage")
    row = page.locator(f"#shadow tr[data-service='{SERVICE}']")
    expect(row.locator("td").nth(6)).to_have_text(str(known["incidents"] + 1))
    expect(row.locator("td").nth(7)).to_have_text(str(known["detected"] + 1))  # by the alert
    csv = "id,service,title,start,end\n"
    csv += f"INC-1,{SERVICE},cache stampede,2026-01-06T03:00:00Z,2026-01-06T03:30:00Z\n"
    csv += f"INC-2,{SERVICE},bad,not a time,2026-01-06T04:00:00Z\n"
    page.locator("#import-form input[type=file]").set_input_files(
        {"name": "incidents.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    page.locator("#import-form button[type=submit]").click()
    expect(page.locator("#flash.ok")).to_contain_text("Imported 1 incident; rejected 1")
    expect(page.locator("#incidents tbody")).to_contain_text("INC-1")
    stored = demo.get("/api/v1/incidents/labelled")["incidents"]
    assert {i["title"] for i in stored} >= {"login outage", "cache stampede"}


def test_the_audit_lists_the_groups(page: Page, demo: Demo) -> None:
    audit = demo.get("/api/v1/reports/audit", days=7)
    page.goto(demo.url + "/reports/audit")
    expect(page.locator("#audit tbody tr")).to_have_count(max(1, len(audit["groups"])))
    expect(page.locator("#audit tr.noisy")).to_have_count(audit["noisy"])
    expect(page.locator("#summary")).to_contain_text(f"{audit['noisy']} noisy group")


def test_not_helpful_raises_the_threshold_shown_on_the_service_page(page: Page, demo: Demo) -> None:
    alerts = demo.get("/api/v1/alerts", service="payments")["alerts"]
    alert = next(a for a in alerts if a["metric"])
    metric = alert["metric"]

    def shown() -> dict[str, Any]:
        svc = demo.get("/api/v1/services/payments")
        row: dict[str, Any] = next(m for m in svc["metrics"] if m["metric"] == metric)
        return row

    before = shown()
    page.goto(demo.url + f"/alerts/{alert['id']}")
    page.wait_for_selector("#facts .badge")
    page.fill("#feedback-comment", "deploy noise, not an incident")
    page.click("#btn-not-helpful")
    expect(page.locator("#flash")).to_contain_text("Feedback recorded")
    expect(page.locator("#history")).to_contain_text("marked not helpful")
    after = shown()
    assert after["threshold"] > before["threshold"]
    assert after["feedback"]["not_helpful"] == before["feedback"]["not_helpful"] + 1

    page.goto(demo.url + "/services/payments")
    row = page.locator(f"tr[data-metric='{metric}']")
    expect(row.locator(".threshold strong")).to_have_text(f"{after['threshold']:.2f}")
    expect(row.locator(".explain")).to_have_text(after["explanation"])
    assert "not-helpful" in after["explanation"]
    expect(row.locator("button.reset")).to_be_enabled()
    expect(page.locator(".service .precision")).to_contain_text("not helpful")
    # an admin's reset: back to the configured threshold, earlier feedback no longer counts
    row.locator("button.reset").click()
    expect(page.locator("#flash.ok")).to_have_text(f"Sensitivity of payments {metric} reset.")
    reset = shown()
    assert reset["threshold"] == reset["base_threshold"] and reset["reset_at"] is not None
    expect(page.locator(f"tr[data-metric='{metric}'] .explain")).to_have_text(reset["explanation"])


def test_silences_are_created_listed_and_expired(page: Page, demo: Demo) -> None:
    page.goto(demo.url + "/silences")
    form = page.locator("#new-silence")
    form.locator("[name=mname]").fill("service")
    form.locator("[name=mvalue]").fill("db")
    page.click("#add-matcher")
    form.locator("[name=mname]").nth(1).fill("metric")
    form.locator("[name=mop]").nth(1).select_option("=~")
    form.locator("[name=mvalue]").nth(1).fill("latency_.*")
    form.locator("[name=comment]").fill("failover drill")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash.ok")).to_contain_text("created")
    row = page.locator("#current tr", has_text="failover drill")
    expect(row).to_contain_text('service="db", metric=~"latency_.*"')
    expect(row.locator(".badge")).to_have_text("active")
    (made,) = (s for s in demo.get("/api/v2/silences") if s["comment"] == "failover drill")
    assert made["matchers"][1] == {
        "name": "metric",
        "value": "latency_.*",
        "isRegex": True,
        "isEqual": True,
    }
    row.locator("button", has_text="Expire").click()
    expect(page.locator("#flash.ok")).to_have_text("Silence expired.")
    expect(page.locator("#expired tr", has_text="failover drill")).to_be_visible()
    assert demo.get(f"/api/v2/silence/{made['id']}")["status"]["state"] == "expired"
