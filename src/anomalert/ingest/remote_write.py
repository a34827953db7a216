"""Prometheus remote_write 1.0: a snappy-compressed protobuf ``WriteRequest`` per POST.

The wire format (prometheus/prompb ``remote.proto``/``types.proto``)::

    WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
    TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
                     repeated Histogram histograms = 4; ... }
    Label          { string name = 1; string value = 2; }
    Sample         { double value = 1; int64 timestamp = 2; }   // timestamp in milliseconds
    MetricMetadata { MetricType type = 1; string metric_family_name = 2; ... }

No protoc runs at build time: the message classes are made at import from a descriptor
written here in Python, in a private pool (so another copy of ``prometheus.*`` types elsewhere
in the process cannot clash). Fields we do not model (help and unit, exemplars) are skipped
by the protobuf runtime as unknown fields. Native histograms are read as opaque messages
(``bytes`` on the wire), only to count them: they are refused, not skipped unseen.

Handling (PRODUCT.md §1: a clear error or a documented, counted handling):

- a body that is not snappy block format, too large when decompressed, or not a
  ``WriteRequest``: ``FieldError("body", ...)`` (HTTP 400; Prometheus does not retry a 4xx);
- the metric is ``__name__``; the service is the ``service`` label, else ``job`` (Prometheus
  adds ``job`` to every scraped series); a series with neither, with no or a bad metric name,
  bad or repeated label names, or a label value holding a control character (NUL, a newline,
  an escape, DEL, a C1 control: as in JSON samples), is a :class:`Rejection` (index = series
  position);
- stale markers (the one NaN bit pattern Prometheus writes when a series disappears) are
  skipped and counted in :attr:`Decoded.stale_markers`; any other NaN or ±inf is a rejection
  of that sample, the series' other samples are kept;
- counters (``Sample.counter``, followed as their rate): as the ``CounterNames`` passed in
  says, from the families' types in this and earlier requests' metadata, else the names;
- native histograms (``send_native_histograms``) are a rejection of that series' histogram
  samples, saying so: classic histograms (``_bucket`` series) are what we read;
- a counter's ``_bucket`` series without an ``le`` that is a number or ``+Inf`` is a
  rejection of the series (:func:`.histograms.bucket_problem`), as in JSON samples.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from anomalert.errors import FieldError
from anomalert.ingest.counters import CounterNames
from anomalert.ingest.histograms import bucket_problem
from anomalert.ingest.jsonin import control_problem
from anomalert.ingest.samples import (
    LABEL_NAME,
    METRIC_NAME,
    Rejection,
    check_label_limits,
    got,
)
from anomalert.model import Sample

#: Largest decompressed WriteRequest taken (Prometheus sends about 2,000 samples per request).
MAX_DECOMPRESSED = 64 * 1024 * 1024
#: The bits of the NaN that Prometheus writes as a staleness marker (value.StaleNaN).
STALE_NAN = struct.pack("<Q", 0x7FF0000000000002)

_F = descriptor_pb2.FieldDescriptorProto


def _message(name: str, fields: list[tuple[str, int, int, str | None, bool]]) -> Any:
    msg = descriptor_pb2.DescriptorProto(name=name)
    for field_name, number, kind, type_name, repeated in fields:
        added = msg.field.add(
            name=field_name,
            number=number,
            type=kind,
            label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
        )
        if type_name is not None:
            added.type_name = type_name
    return msg


def _build() -> tuple[Any, Any]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="anomalert/prompb/remote.proto", package="prometheus", syntax="proto3"
    )
    proto.message_type.extend(
        [
            _message(
                "WriteRequest",
                [
                    ("timeseries", 1, _F.TYPE_MESSAGE, ".prometheus.TimeSeries", True),
                    ("metadata", 3, _F.TYPE_MESSAGE, ".prometheus.MetricMetadata", True),
                ],
            ),
            _message(
                # ``type`` is an enum on the wire (a varint), read here as its number.
                "MetricMetadata",
                [
                    ("type", 1, _F.TYPE_INT32, None, False),
                    ("metric_family_name", 2, _F.TYPE_STRING, None, False),
                ],
            ),
            _message(
                "TimeSeries",
                [
                    ("labels", 1, _F.TYPE_MESSAGE, ".prometheus.Label", True),
                    ("samples", 2, _F.TYPE_MESSAGE, ".prometheus.Sample", True),
                    # A length-delimited message read as its bytes: counted, not decoded.
                    ("histograms", 4, _F.TYPE_BYTES, None, True),
                ],
            ),
            _message(
                "Label",
                [
                    ("name", 1, _F.TYPE_STRING, None, False),
                    ("value", 2, _F.TYPE_STRING, None, False),
                ],
            ),
            _message(
                "Sample",
                [
                    ("value", 1, _F.TYPE_DOUBLE, None, False),
                    ("timestamp", 2, _F.TYPE_INT64, None, False),
                ],
            ),
        ]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    request = message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))
    series = message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.TimeSeries"))
    return request, series


WriteRequest, TimeSeries = _build()


@dataclass(frozen=True)
class Decoded:
    """What one request held: the samples taken, those refused, and the stale markers skipped."""

    samples: list[Sample] = field(hash=False)
    rejections: list[Rejection] = field(hash=False)
    stale_markers: int = 0


def decode(
    body: bytes,
    *,
    max_decompressed: int = MAX_DECOMPRESSED,
    counters: CounterNames | None = None,
) -> Decoded:
    """Decode one remote_write body; FieldError("body") when it is not one. ``counters``
    learns the metadata's family types and marks counters' samples (None: none marked)."""
    raw = _decompress(body, max_decompressed)
    request = WriteRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise FieldError("body", f"not a Prometheus remote_write WriteRequest ({exc})") from None
    samples: list[Sample] = []
    rejections: list[Rejection] = []
    stale = 0
    if counters is not None:
        for meta in request.metadata:
            counters.learn(meta.metric_family_name, meta.type)
    for i, series in enumerate(request.timeseries):
        key = tuple((p.name, p.value) for p in series.labels)
        known = _SEEN.get(key)
        if known is None:
            try:
                known = _series_labels(f"timeseries[{i}]", series.labels)
            except FieldError as exc:
                rejections.append(Rejection(i, str(exc)))
                continue
            if len(_SEEN) >= _SEEN_MAX:
                _SEEN.clear()
            _SEEN[key] = known
        metric, labels = known
        counter = counters is not None and counters(metric)
        where = f"timeseries[{i}]"
        bucket = bucket_problem(metric, labels, counter)
        if bucket is not None:  # as JSON samples: a bucket in no quantile is refused, saying so
            rejections.append(Rejection(i, f"{where}.{bucket}"))
            continue
        problems: list[str] = []
        for j, point in enumerate(series.samples):
            value = point.value
            if math.isnan(value) and struct.pack("<d", value) == STALE_NAN:
                stale += 1
            elif not math.isfinite(value):
                problems.append(f"{where}.samples[{j}].value: must be finite (got {value})")
            else:
                samples.append(Sample(metric, labels, point.timestamp / 1000.0, value, counter))
        if series.histograms:
            problems.append(
                f"{where}.histograms: {len(series.histograms)} native histogram samples, not "
                "supported; send classic histograms (remote_write send_native_histograms: false)"
            )
        if problems:
            rejections.append(Rejection(i, "; ".join(problems)))
    return Decoded(samples, rejections, stale)


def decode_write_request(
    body: bytes, counters: CounterNames | None = None
) -> tuple[list[Sample], list[Rejection]]:
    """Samples and rejections of one remote_write body (stale markers skipped: see :func:`decode`).

    >>> body = encode_write_request([Sample("up", {"job": "api"}, 60.0, 1.0)])
    >>> [(s.metric, s.labels, s.timestamp, s.value) for s in decode_write_request(body)[0]]
    [('up', {'job': 'api', 'service': 'api'}, 60.0, 1.0)]
    """
    decoded = decode(body, counters=counters)
    return decoded.samples, decoded.rejections


def encode_write_request(
    samples: Iterable[Sample], metadata: Mapping[str, int] | None = None
) -> bytes:
    """A remote_write body: one series per (metric, labels), its points in time order, and
    the types of ``metadata``'s metric families (``ingest.counters``' numbering)."""
    grouped: dict[tuple[str, tuple[tuple[str, str], ...]], list[Sample]] = {}
    for s in samples:
        grouped.setdefault((s.metric, tuple(sorted(s.labels.items()))), []).append(s)
    request = WriteRequest()
    for (metric, labels), points in grouped.items():
        series = request.timeseries.add()
        for name, value in sorted([("__name__", metric), *labels]):
            series.labels.add(name=name, value=value)
        for s in sorted(points, key=lambda p: p.timestamp):
            series.samples.add(value=s.value, timestamp=round(s.timestamp * 1000))
    for family, kind in (metadata or {}).items():
        request.metadata.add(type=kind, metric_family_name=family)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def _decompress(body: bytes, limit: int) -> bytes:
    """Snappy block format, checking the announced size first (a small body must not balloon)."""
    size = _announced_size(body)
    if size is None:
        raise FieldError("body", "not snappy-compressed (block format) data")
    if size > limit:
        raise FieldError("body", f"decompresses to {size:,} bytes; the limit is {limit:,}")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise FieldError("body", f"not snappy-compressed (block format) data ({exc})") from None


def _announced_size(body: bytes) -> int | None:
    """The uncompressed length a snappy block starts with (a uint32 varint)."""
    size = 0
    for i, byte in enumerate(body[:5]):
        size |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return size
    return None


#: Label sets already validated (Prometheus sends the same series every few seconds): the
#: checks run once per series, not once per request. Bounded; cleared when full. The label
#: dicts are shared by the samples of a series and never mutated (model.Sample's contract).
_SEEN: dict[tuple[tuple[str, str], ...], tuple[str, dict[str, str]]] = {}
_SEEN_MAX = 200_000


def _series_labels(where: str, pairs: Iterable[Any]) -> tuple[str, dict[str, str]]:
    metric = ""
    labels: dict[str, str] = {}
    for pair in pairs:
        name, value = str(pair.name), str(pair.value)
        if name == "__name__":
            metric = value
            continue
        if name in labels:
            raise FieldError(f"{where}.labels", f"label {got(name)} appears twice")
        if not LABEL_NAME.fullmatch(name):
            raise FieldError(f"{where}.labels", f"{got(name)} is not a label name")
        problem = control_problem(value)
        if problem is not None:  # as JSON samples' label values
            raise FieldError(f"{where}.labels.{name}", problem)
        if value:  # an empty value is an absent label in Prometheus
            labels[name] = value
    if not METRIC_NAME.fullmatch(metric):
        raise FieldError(f"{where}.labels.__name__", f"must be a metric name (got {got(metric)})")
    check_label_limits(where, metric, labels)
    if not labels.get("service"):
        if not labels.get("job"):
            raise FieldError(f"{where}.labels", "needs a service or job label to name the service")
        labels["service"] = labels["job"]
    return metric, labels
