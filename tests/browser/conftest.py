"""Browser tests: Playwright driving Debian's Chromium against the real running service.

The demo service (``anomalert live-demo``: the generated scenario replayed on its own clock)
starts once per session with a shortened scenario, and the tests wait until its feed has
finished, so every test reads the same settled data. Each test gets a fresh page whose
console errors, warnings and uncaught exceptions fail the test, and leaves a screenshot in
``test-artifacts/screenshots/<test>.png`` for people to look at.

Tests do not depend on each other's order: under xdist each worker that runs them starts its
own services.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.support.procs import free_port, http_ok, running, wait_until
from tests.support.service import BINARY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: A laptop screen: the alert page must answer its questions without scrolling here.
VIEWPORT = {"width": 1366, "height": 768}
#: The week of history and the first incident (a deploy, then a latency spike).
DEMO_DAYS = 9
#: Five-minute samples: a fifth of the feed's work, the same incidents (a test suite must not
#: wait minutes for the demo to learn a week).
DEMO_STEP = 300
DEMO_FINISHED = "demo data finished"


@dataclass
class Demo:
    """The running demo service."""

    url: str
    log: Path

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(self.url + path, params=params, timeout=10.0)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session", autouse=True)
def demo_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``anomalert live-demo`` on a free port, started first so that it feeds its (short)
    scenario while the tests that do not need it run.

    ``ANOMALERT_DEMO_URL`` points the tests at a demo already running (while writing them).
    """
    if os.environ.get("ANOMALERT_DEMO_URL"):
        yield Demo(os.environ["ANOMALERT_DEMO_URL"], Path(os.devnull))
        return
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "service.log"
    argv = [str(BINARY), "live-demo", "--folder", str(folder), "--port", str(port)]
    argv += ["--speed", "1000000", "--days", str(DEMO_DAYS), "--step", str(DEMO_STEP)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with running(argv, http_ok(url + "/readyz"), log, timeout=60.0, env=env):
        yield Demo(url, log)


@pytest.fixture(scope="session")
def demo(demo_process: Demo) -> Demo:
    """The demo service once its feed has finished: every test reads the same settled data."""
    if demo_process.log != Path(os.devnull):
        log = demo_process.log
        wait_until(lambda: DEMO_FINISHED in log.read_text(), 240.0, "the demo feed")
    return demo_process


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded one)."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class Console:
    """What the page said on its console and the exceptions it threw."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Messages a test expects (e.g. the browser's own line for a refused request).
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.messages.append(f"{msg.type}: {msg.text} ({msg.location.get('url', '')})")

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def problems(self) -> list[str]:
        bad = [m for m in self.messages if not any(p.search(m) for p in self.allowed)]
        return bad + [f"pageerror: {e}" for e in self.errors]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page (own storage); a screenshot at the end; no console errors allowed."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.on("console", console.on_console)
    p.on("pageerror", lambda exc: console.errors.append(str(exc)))
    try:
        yield p
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        p.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        context.close()
    assert not console.problems(), console.problems()
