"""The alerts list and "Explain this alert" in a real browser, on the replayed demo."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import VIEWPORT, Console, Demo


def rows(page: Page) -> list[dict[str, str]]:
    """The alert rows as the page shows them."""
    page.wait_for_selector("#alerts tbody tr")
    out: list[dict[str, str]] = page.eval_on_selector_all(
        "#alerts tbody tr",
        """trs => trs.map(tr => {
            const td = [...tr.children].map(c => c.textContent.trim());
            return {id: tr.dataset.id, severity: td[0], state: td[1], service: td[2],
                    metric: td[3], score: td[4], mode: td[5], reason: td[6], age: td[8]};
        })""",
    )
    return out


def checkout_page_alert(demo: Demo) -> dict[str, Any]:
    """The demo's first incident: checkout's latency, a deploy eight minutes before."""
    alerts = demo.get("/api/v1/alerts", service="checkout", severity="P1")["alerts"]
    assert alerts, "the demo raised no P1 alert on checkout"
    detail: dict[str, Any] = demo.get(f"/api/v1/alerts/{alerts[-1]['id']}")
    return detail


def test_the_dashboard_lists_the_alerts(page: Page, demo: Demo) -> None:
    api = demo.get("/api/v1/alerts", limit=50)["alerts"]
    page.goto(demo.url + "/")
    shown = rows(page)
    assert [r["id"] for r in shown] == [str(a["id"]) for a in api]
    first, row = api[0], shown[0]
    assert row["service"] == first["service"] and row["metric"] == first["metric"]
    assert row["score"] == f"{first['score']:.2f}" and re.fullmatch(r"[01]\.\d\d", row["score"])
    assert row["severity"] == first["severity"] and row["mode"] == first["mode"]
    assert row["age"].endswith("ago")
    assert {r["severity"] for r in shown} >= {"P1"}
    expect(page.locator("#refreshed")).to_contain_text("refreshed")


def test_filters_narrow_the_list_and_survive_the_refresh(page: Page, demo: Demo) -> None:
    page.clock.install()
    page.goto(demo.url + "/")
    everything = rows(page)
    page.select_option("select[name=severity]", "P1")
    page.wait_for_url(re.compile(r"severity=P1"))
    p1 = rows(page)
    assert p1 and len(p1) < len(everything)
    assert {r["severity"] for r in p1} == {"P1"}
    page.fill("input[name=search]", "latency")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"search=latency"))
    narrowed = rows(page)
    assert narrowed and len(narrowed) <= len(p1)
    assert all(r["severity"] == "P1" and "latency" in r["metric"] + r["reason"] for r in narrowed)
    assert page.input_value("select[name=severity]") == "P1"  # the form shows the URL's filters
    # the auto-refresh (every 10 s) keeps the filters
    before = page.text_content("#refreshed")
    page.clock.fast_forward(11_000)
    expect(page.locator("#refreshed")).not_to_have_text(before or "")
    assert [r["id"] for r in rows(page)] == [r["id"] for r in narrowed]
    # a service filter in the URL, shared as a link
    page.goto(demo.url + "/?service=checkout&state=resolved")
    assert {r["service"] for r in rows(page)} == {"checkout"}
    assert page.input_value("input[name=service]") == "checkout"


def test_older_pages_follow_the_keyset(page: Page, demo: Demo) -> None:
    api = demo.get("/api/v1/alerts", limit=6)
    assert api["next"] is not None
    page.goto(demo.url + "/?limit=3")
    first = [r["id"] for r in rows(page)]
    page.click("#older")
    page.wait_for_url(re.compile(r"before=\d+"))
    second = [r["id"] for r in rows(page)]
    assert first + second == [str(a["id"]) for a in api["alerts"]]
    expect(page.locator("#newest")).to_be_visible()


def test_an_alert_opens_and_explains_itself(page: Page, demo: Demo) -> None:
    alert = checkout_page_alert(demo)
    page.goto(demo.url + "/?service=checkout&severity=P1")
    page.click(f"#alerts tbody tr[data-id='{alert['id']}'] td:nth-child(4) a")
    page.wait_for_url(re.compile(rf"/alerts/{alert['id']}$"))
    band = page.wait_for_selector("#chart #band")
    assert band is not None
    d = band.get_attribute("d") or ""
    assert d.startswith("M") and d.count("L") > 20 and d.endswith("Z")
    box = band.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 10
    assert page.locator("#chart #actual").get_attribute("d")
    assert page.locator("#chart .expected").get_attribute("d")
    spike = page.locator("#spike-marker")
    expect(spike).to_be_visible()
    expect(spike.locator("circle")).to_have_count(1)
    # what, where, how bad, since when
    expect(page.locator("#title")).to_have_text(f"{alert['service']} · {alert['metric']}")
    facts = page.text_content("#facts") or ""
    assert "P1" in facts and f"score {alert['score']:.2f}" in facts and "alerting" in facts
    assert alert["starts_at"][:16].replace("T", " ") in facts
    expect(page.locator("#reason")).to_have_text(alert["reason"])
    # what changed: the deploy, with its link and how long before
    deploy = next(e for e in alert["events"] if e["kind"] == "deployment")
    item = page.locator("#events li", has_text=deploy["version"]).first
    expect(item).to_contain_text(f"{round(deploy['minutes_before'])} minutes before")
    if deploy["link"]:
        assert item.locator("a").get_attribute("href") == deploy["link"]
    expect(page.locator("#chart .event-marker").first).to_be_attached()
    # what to do
    assert page.locator("#runbook a").get_attribute("href") == alert["runbook_url"]
    # all of it above the fold on a laptop screen
    for selector in ("#title", "#facts", "#reason", "#chart svg", "#events", "#runbook"):
        b = page.locator(selector).bounding_box()
        assert b is not None and b["y"] + b["height"] <= VIEWPORT["height"], selector
    for button in ("#btn-helpful", "#btn-not-helpful", "#btn-ack", "#btn-silence"):
        b = page.locator(button).bounding_box()
        assert b is not None and b["y"] + b["height"] <= VIEWPORT["height"], button
    # below: the group's other alerts and the notifications
    group = demo.get("/api/v1/alerts", incident=alert["labels"]["incident"])["alerts"]
    others = [a for a in group if a["id"] != alert["id"]]
    expect(page.locator("#group tbody tr")).to_have_count(max(1, len(others)))
    if alert["notifications"]:
        expect(page.locator("#history tr.hist-notification")).to_have_count(
            len(alert["notifications"])
        )


def test_the_silence_form_waits_for_the_alert_it_is_filled_from(page: Page, demo: Demo) -> None:
    """Clicked before the alert's labels had arrived, the form came up with no matcher (CI)."""
    alert = checkout_page_alert(demo)
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(f"**/api/v1/alerts/{alert['id']}", hold)
    page.goto(demo.url + f"/alerts/{alert['id']}")
    for _ in range(200):  # the handler runs while the driver is waited on
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page did not ask for its alert"
    expect(page.locator("#btn-silence")).to_be_disabled()
    held[0].continue_()
    page.unroute(f"**/api/v1/alerts/{alert['id']}")  # later refreshes go straight through
    page.click("#btn-silence")  # waits until it is enabled
    form = page.locator("#silence-form")
    expect(form.locator("[name=mname]")).to_have_count(3)
    names = form.locator("[name=mname]").evaluate_all("xs => xs.map(x => x.value)")
    values = form.locator("[name=mvalue]").evaluate_all("xs => xs.map(x => x.value)")
    assert dict(zip(names, values, strict=True)) == {
        k: alert["labels"][k] for k in ("service", "metric", "alertname")
    }


def test_an_unknown_alert_is_a_readable_404_page(page: Page, demo: Demo, console: Console) -> None:
    console.allow("status of 404")  # the browser's own line for the page's status
    r = page.goto(demo.url + "/alerts/987654")
    assert r is not None and r.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("There is no alert with id 987654")
    assert httpx.get(demo.url + "/api/v1/alerts/987654").json()["error"]["code"] == "not_found"


def test_a_peer_alert_charts_the_member_against_its_peers(page: Page, demo: Demo) -> None:
    """An outlier's chart is the member against its peers' median and band (the context's
    window, ``StreamDetector.peer_context``), and its legend says so. The demo has no pods:
    the checkout alert is served with the outlier's kind."""
    alert = checkout_page_alert(demo)
    body = {**alert, "context": {**alert["context"], "kind": "outlier"}}
    page.route(f"**/api/v1/alerts/{alert['id']}", lambda route: route.fulfill(json=body))
    page.goto(demo.url + f"/alerts/{alert['id']}")
    legend = page.locator("#chart-legend")
    expect(legend).to_contain_text("peers' band")
    expect(legend).to_contain_text("peers' median")
    page.unroute(f"**/api/v1/alerts/{alert['id']}")
    page.goto(demo.url + f"/alerts/{alert['id']}")
    expect(page.locator("#chart-legend")).to_contain_text("baseline band")
