"""The running service: the API plus the background loops that make time pass.

One process. The HTTP handlers ingest; a background thread ticks the app (resolves,
rule evaluation, group flushes), hands due notifications to receivers, polls Prometheus,
checkpoints and cleans up old rows. Stopping checkpoints once more, so a restart resumes
where it stopped.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import uvicorn

from anomalert.api.server import create_api
from anomalert.app import App, Clock
from anomalert.config import Config
from anomalert.detect.engine import compile_kernels
from anomalert.ingest.jsonin import one_line
from anomalert.ingest.prometheus_pull import PrometheusPull, PullError, Skip
from anomalert.store import Store

log = logging.getLogger("anomalert.service")
#: The skips of one pull its warning quotes (the count says how many there were), and the
#: characters quoted of each (a skipped series' labels may run to thousands).
SHOWN_SKIPS = 3
SHOWN_CHARS = 300
#: A series skipped on every pull (one exporter's broken label, a ratio that is 0/0 all
#: night) is warned of again at most this often, instead of every ``interval``: a warning a
#: minute for one known series buried every other line of the log. Every skip is counted.
SKIP_REPEAT = 3600.0


@dataclass
class Loops:
    """Background work on a period, in one thread (``interval`` seconds between passes)."""

    app: App
    interval: float = 1.0
    extra: list[Callable[[], None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_cleanup: float = 0.0
    _last_pull: float = 0.0

    def start(self) -> None:
        """Start the background thread."""
        self._stop.clear()
        self.app.on_transitions = self._wake.set
        self._thread = threading.Thread(target=self._run, name="anomalert-loops", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and checkpoint."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.app.checkpoint()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            # Sleep until the next pass, but no longer than the pipeline's next group flush,
            # and wake at once when an ingest produced alert transitions: a page waits for
            # group_wait, not for the loop's period.
            delay = self.interval
            due = self.app.pipeline.next_due()
            if due is not None:
                delay = max(0.01, min(delay, due - self.app.clock.now()))
            self._wake.wait(delay)
            self._wake.clear()

    def run_once(self) -> None:
        """One pass; a failing step is logged and the loop goes on (the next pass retries)."""
        for step in (self.app.tick, self.app.deliver, self._maybe_cleanup, *self.extra):
            try:
                step()
            except Exception:
                log.exception("background step %s failed", getattr(step, "__name__", step))

    def _maybe_cleanup(self) -> None:
        now = self.app.clock.now()
        policy = self.app.config.storage.retention
        if now - self._last_cleanup >= policy.interval:
            self._last_cleanup = now
            deleted = self.app.store.cleanup(now, policy)
            if any(deleted.values()):
                log.info("retention cleanup: %s", deleted)


def pull_step(app: App) -> Callable[[], None] | None:
    """The Prometheus pull source as a loop step, when the config has one."""
    cfg = app.config.prometheus
    if cfg is None:
        return None
    source = PrometheusPull(cfg, app.http)
    last = [0.0]
    warned: dict[int, float] = {}  # a skipped series' words' hash -> when last warned of

    def pull() -> None:
        now = app.clock.now()
        if now - last[0] < cfg.interval:
            return
        last[0] = now
        try:
            samples = source.poll(now)
        except PullError as exc:
            log.warning("prometheus pull: %s", exc)
            samples = exc.partial
        report_skips(app, source.last_rejections, warned, now)
        if samples:
            app.ingest(samples, "prometheus")

    pull.__name__ = "prometheus_pull"
    return pull


def report_skips(app: App, skips: Sequence[Skip], warned: dict[int, float], now: float) -> None:
    """What a pull skipped (a series breaking the label rules, naming no service, repeating
    another's labels; a series' NaN/inf points): ``anomalert_samples_rejected_total{source=
    "prometheus", reason="invalid"}``, one per series as remote_write's are, and one warning
    with how many and the first few of those not warned of within ``SKIP_REPEAT`` seconds
    (``warned``: when each series was last, by the hash of its words, kept here: a broken
    series' raw labels can run to megabytes). Unread, the pull's own account of them reached
    nobody: a series of the answer lost for good without a trace.
    """
    for series in [s for s, at in warned.items() if now - at >= SKIP_REPEAT]:
        del warned[series]  # also bounds what is kept: only the last hour's
    if not skips:
        return
    app.metrics.rejected.labels("prometheus", "invalid").inc(len(skips))
    fresh = [s for s in skips if hash(s.series) not in warned]
    if not fresh:
        return
    for s in fresh:
        warned[hash(s.series)] = now
    shown = "; ".join(_cut(one_line(s.error)) for s in fresh[:SHOWN_SKIPS])
    more = f"; and {len(fresh) - SHOWN_SKIPS} more" if len(fresh) > SHOWN_SKIPS else ""
    again = len(skips) - len(fresh)
    repeats = f" ({again} more skipped again, warned of within the hour)" if again else ""
    what = "prometheus pull skipped %d result series (or their NaN/inf points): %s%s%s"
    log.warning(what, len(fresh), shown, more, repeats)


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def build(config: Config, db_url: str | None = None, clock: Clock | None = None) -> App:
    """Open the store (migrating it) and wire the app."""
    store = Store.open(db_url or config.storage.url)
    return App(config, store, clock=clock)


def serve(
    app: App,
    host: str,
    port: int,
    extra: list[Callable[[], None]] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the API and the loops until interrupted (``on_ready`` runs once they started)."""
    steps = list(extra or [])
    pull = pull_step(app)
    if pull is not None:
        steps.append(pull)
    loops = Loops(app, extra=steps)
    # The detectors' compiled loops load from numba's cache at their first call, about a
    # second for all of them (and compile, half a minute, if the cache is cold): pay it
    # here, before the port opens, not in the first ingest request of new series.
    started = time.perf_counter()
    compile_kernels()
    log.info("detection kernels ready in %.1f s", time.perf_counter() - started)
    # The app's long-lived objects (engine arrays, config, routes) never become garbage:
    # freezing them and collecting less often spares the collector most of its scans
    # (a third more ingest throughput, measured by benchmarks/bench_service.py).
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)

    def start() -> None:
        loops.start()
        if on_ready is not None:
            on_ready()

    api = create_api(app, on_start=start, on_stop=loops.stop)
    log.info("anomalert listening on http://%s:%d (store %s)", host, port, app.store.url)
    uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False)


def wait_ready(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until check() is true (used by the demo to print where to look)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.1)
