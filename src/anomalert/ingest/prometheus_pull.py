"""Pull samples from a Prometheus server with PromQL ``query_range``, on the caller's schedule.

Each configured query is evaluated on a fixed grid (multiples of its ``step``), so the same
point in time always gets the same timestamp whatever the poll times. A high-water mark per
query remembers the last grid point returned: the next poll asks from the point after it up to
``now``, so nothing is returned twice and no point is skipped; the first poll reaches back
``lookback``. Marks live in memory: after a restart the lookback range is asked again.

Failures (connection, timeout, HTTP error, Prometheus ``status: error``, a malformed answer)
leave that query's mark where it was, so the next poll asks for the same range again; the
other queries go on. :class:`PullError` then carries the samples the healthy queries returned
(``partial``) and Prometheus' own message for each failure.

Documented handling of what comes back (counted in :attr:`PrometheusPull.last_rejections`):

- the series' labels become the sample's labels (``__name__`` dropped), the sample's metric is
  the configured ``metric``; the service is the query's ``service`` if set, else the result's
  ``service_label`` label, else its ``job``; a series with none is skipped and reported;
- the labels follow the rules of JSON samples and remote_write (:func:`.samples.label_set`):
  names Prometheus', values without a control character or a lone surrogate, within the
  limits of a series' labels; a series breaking one is skipped and reported, naming the
  label. Why here too: Prometheus stores any UTF-8 in a label value, NUL included, and
  PostgreSQL cannot store a NUL in text: such a series' first alert failed the ingest of its
  whole poll (the good series' alerts of that poll stored, never routed), every poll it
  stayed firing;
- NaN/±inf points (``0/0`` in a ratio) are skipped and reported per series;
- two result series with the same labels after dropping ``__name__`` would be one series to
  us: the later is skipped and reported (aggregate in the query: ``sum by (service) (...)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx
from pydantic import SecretStr, field_validator

from anomalert.configbase import Duration, StrictModel
from anomalert.errors import AnomalertError, FieldError
from anomalert.ingest.samples import METRIC_NAME, Rejection, label_set
from anomalert.model import Labels, Sample

#: Prometheus refuses a query_range of more than 11,000 points per series; ask in chunks.
MAX_POINTS = 11_000


@dataclass(frozen=True)
class Skip(Rejection):
    """A result series a poll skipped (or whose NaN/inf points it dropped); ``series`` says
    which and why in words that stay the same on every poll that skips it again (the query,
    the labels, the problem; not a count), so a caller can tell a new skip from a repeat."""

    series: str = ""


class PullQuery(StrictModel):
    """One PromQL query whose results are stored under ``metric``."""

    metric: str
    query: str
    service: str | None = None
    service_label: str = "service"
    step: Duration = 60.0

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, value: str) -> str:
        if not METRIC_NAME.fullmatch(value):
            raise ValueError("must be a metric name [a-zA-Z_:][a-zA-Z0-9_:]*")
        return value

    @field_validator("step")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than zero")
        return value


class PullConfig(StrictModel):
    """A Prometheus server to pull from and the queries to run every ``interval``."""

    url: str
    interval: Duration = 60.0
    lookback: Duration = 3600.0
    timeout: Duration = 10.0
    bearer_token: SecretStr | None = None
    queries: list[PullQuery]

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL like http://prometheus:9090")
        return value.rstrip("/")


class PullError(AnomalertError):
    """Some queries failed; their ranges are asked again next poll, ``partial`` holds the rest."""

    def __init__(self, failures: list[str], partial: list[Sample]) -> None:
        self.failures = failures
        self.partial = partial
        super().__init__("; ".join(failures))


@dataclass(frozen=True)
class _Series:
    labels: Labels
    points: list[tuple[float, float]]


class PrometheusPull:
    """The pull source: ``poll(now)`` returns the samples that appeared since the last poll."""

    def __init__(self, config: PullConfig, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.marks: dict[int, float] = {}  # query index -> last grid time returned
        self.last_rejections: list[Skip] = []

    def poll(self, now: float) -> list[Sample]:
        """New samples of every query up to ``now``; PullError if any query failed."""
        samples: list[Sample] = []
        failures: list[str] = []
        self.last_rejections = []
        for i, query in enumerate(self.config.queries):
            try:
                samples += self._pull(i, query, now)
            except PullError as exc:
                samples += exc.partial
                failures += exc.failures
        if failures:
            raise PullError(failures, samples)
        return samples

    def _pull(self, index: int, query: PullQuery, now: float) -> list[Sample]:
        """One query's new grid points, asked in chunks; the mark moves after each chunk."""
        step = query.step
        last = math.floor(now / step + 1e-9) * step
        mark = self.marks.get(index)
        start = (
            math.ceil((now - self.config.lookback) / step - 1e-9) * step
            if mark is None
            else mark + step
        )
        samples: list[Sample] = []
        while start <= last:
            end = min(last, start + (MAX_POINTS - 1) * step)
            try:
                result = self._query_range(index, query, start, end)
            except PullError as exc:
                raise PullError(exc.failures, samples) from None
            samples += self._samples(index, query, result)
            self.marks[index] = end
            start = end + step
        return samples

    def _query_range(self, index: int, query: PullQuery, start: float, end: float) -> list[_Series]:
        where = f"queries[{index}] ({query.metric})"
        headers = {}
        if self.config.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.config.bearer_token.get_secret_value()}"
        params: dict[str, str | float] = {
            "query": query.query,
            "start": start,
            "end": end,
            "step": step_text(query.step),
        }
        try:
            response = self.client.get(
                f"{self.config.url}/api/v1/query_range",
                params=params,
                headers=headers,
                timeout=self.config.timeout,
            )
        except httpx.HTTPError as exc:
            raise PullError([f"{where}: {type(exc).__name__}: {exc}"], []) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise PullError([f"{where}: {_problem(response, body)}"], [])
        try:
            return _matrix(body["data"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PullError([f"{where}: not a query_range matrix answer ({exc!r})"], []) from None

    def _samples(self, index: int, query: PullQuery, result: list[_Series]) -> list[Sample]:
        where = f"queries[{index}] ({query.metric})"
        samples: list[Sample] = []
        seen: set[frozenset[tuple[str, str]]] = set()
        for position, series in enumerate(result):
            raw = {k: v for k, v in series.labels.items() if k != "__name__"}
            try:
                labels = label_set(f"result[{position}].labels", raw)
            except FieldError as exc:  # repr() writes any control character escaped
                self._reject(index, f"{where}: series {raw} skipped: {exc}")
                continue
            service = query.service or labels.get(query.service_label) or labels.get("job")
            if not service:
                self._reject(index, f"{where}: series {labels} has no {query.service_label} or job")
                continue
            labels["service"] = service
            key = frozenset(labels.items())
            if key in seen:
                self._reject(index, f"{where}: two series have labels {labels}; aggregate them")
                continue
            seen.add(key)
            bad = 0
            for t, value in series.points:
                if math.isfinite(value):
                    samples.append(Sample(query.metric, labels, t, value))
                else:
                    bad += 1
            if bad:
                same = f"{where}: NaN/inf points of {labels} skipped"
                self._reject(index, f"{where}: {bad} NaN/inf points of {labels} skipped", same)
        return samples

    def _reject(self, index: int, error: str, series: str | None = None) -> None:
        """Report a skip; ``series``: its words that stay the same on every poll (the
        error's, where they have no count)."""
        self.last_rejections.append(Skip(index, error, error if series is None else series))


def step_text(step: float) -> str:
    """The step as Prometheus reads it (float seconds).

    >>> step_text(60.0), step_text(0.5), step_text(1234567.0)
    ('60', '0.5', '1234567')
    """
    return f"{step:.15g}"


def _problem(response: httpx.Response, body: object) -> str:
    """Prometheus' own words when it gave them, else the HTTP status and the start of the body."""
    if isinstance(body, dict) and "error" in body:
        kind = body.get("errorType", "")
        return f"Prometheus answered {response.status_code} {kind}: {body['error']}"
    text = response.text[:200].strip()
    return f"Prometheus answered {response.status_code}: {text or 'an empty body'}"


def _matrix(data: dict[str, object]) -> list[_Series]:
    if data["resultType"] != "matrix":
        raise ValueError(f"resultType {data['resultType']!r}")
    result = data["result"]
    if not isinstance(result, list):
        raise TypeError("result is not a list")
    return [
        _Series(
            labels={str(k): str(v) for k, v in item["metric"].items()},
            points=[(float(t), float(v)) for t, v in item["values"]],
        )
        for item in result
    ]
