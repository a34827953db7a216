"""Start a real Prometheus (Debian's binary) for a test, scraping the targets the test runs.

The config is generated per test: ``scrape_interval`` 1 s so a test sees data within
seconds, an optional ``remote_write`` to a receiver the test runs, its own TSDB directory,
127.0.0.1 and a free port. The process is stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, start_http_server

from tests.support.procs import free_port, http_ok, require_binary, running, wait_until


@dataclass(frozen=True)
class Prometheus:
    """A running server: its base URL."""

    url: str

    def instant(self, query: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of each series of an instant query; raises on a Prometheus error."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=5.0)
        response.raise_for_status()
        return [(r["metric"], float(r["value"][1])) for r in response.json()["data"]["result"]]

    def wait_for(self, query: str, timeout: float = 20.0) -> None:
        """Wait until an instant query returns a series with a value above zero."""
        wait_until(
            lambda: any(value > 0 for _, value in self.instant(query)),
            timeout,
            f"prometheus query {query!r}",
        )


def prometheus_config(
    targets: Sequence[str], job: str = "app", remote_write_url: str | None = None
) -> dict[str, object]:
    """The prometheus.yml content (as data; JSON is valid YAML)."""
    config: dict[str, object] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    if remote_write_url is not None:
        config["remote_write"] = [
            {
                "url": remote_write_url,
                "queue_config": {
                    "batch_send_deadline": "1s",
                    "min_backoff": "100ms",
                    "max_backoff": "1s",
                },
                # The families' types, every second rather than every minute.
                "metadata_config": {"send": True, "send_interval": "1s"},
            }
        ]
    return config


@contextlib.contextmanager
def running_prometheus(
    tmp: Path,
    targets: Sequence[str],
    job: str = "app",
    remote_write_url: str | None = None,
) -> Iterator[Prometheus]:
    """Run Prometheus scraping ``targets`` (host:port) until the block ends."""
    binary = require_binary("prometheus")
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(targets, job, remote_write_url), indent=2))
    (tmp / "tsdb").mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with running(argv, http_ok(f"{url}/-/ready"), tmp / "prometheus.log", timeout=30.0):
        yield Prometheus(url)


@contextlib.contextmanager
def serving_metrics(registry: CollectorRegistry) -> Iterator[str]:
    """Expose ``registry`` on 127.0.0.1 (a scrape target) until the block ends; yields host:port."""
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
