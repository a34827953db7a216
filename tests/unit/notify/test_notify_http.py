"""HTTP outcomes -> retry semantics, in one place: statuses, Retry-After, masking, redaction."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from anomalert.errors import PermanentDeliveryError, RetryableDeliveryError
from anomalert.notify import http
from tests.support.procs import free_port


def respond(status: int, text: str = "", **headers: str) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=text, headers=headers)

    return httpx.Client(transport=httpx.MockTransport(answer))


def post(client: httpx.Client, url: str = "https://api.example.com/v1/send", **kw: Any) -> None:
    http.post(client, url, target="oncall/x[0]", json={"a": 1}, timeout=1.0, **kw)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status: int) -> None:
    post(respond(status))


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retryable(status: int) -> None:
    with pytest.raises(RetryableDeliveryError, match=f"HTTP {status}"):
        post(respond(status, "try later"))


@pytest.mark.parametrize("status", [301, 307, 400, 401, 403, 404, 410, 413, 422])
def test_other_statuses_are_permanent(status: int) -> None:
    with pytest.raises(PermanentDeliveryError, match=f"oncall/x\\[0\\]: HTTP {status}"):
        post(respond(status, "nope"))


def test_redirects_are_not_followed_even_if_the_client_would() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/moved":
            return httpx.Response(200)
        return httpx.Response(308, headers={"Location": "/moved"})

    client = httpx.Client(transport=httpx.MockTransport(answer), follow_redirects=True)
    with pytest.raises(PermanentDeliveryError, match="HTTP 308"):
        post(client)


def test_retry_after_in_seconds_and_as_a_date() -> None:
    with pytest.raises(RetryableDeliveryError) as info:
        post(respond(429, **{"Retry-After": "30"}))
    assert info.value.retry_after == 30.0
    with pytest.raises(RetryableDeliveryError) as info:
        post(
            respond(
                503,
                **{
                    "Retry-After": "Mon, 01 Jan 2024 09:02:00 GMT",
                    "Date": "Mon, 01 Jan 2024 09:00:30 GMT",
                },
            )
        )
    assert info.value.retry_after == 90.0  # measured against the server's own Date
    with pytest.raises(RetryableDeliveryError) as info:
        post(respond(503, **{"Retry-After": "soon"}))
    assert info.value.retry_after is None
    with pytest.raises(RetryableDeliveryError) as info:
        post(respond(500))
    assert info.value.retry_after is None


def test_timeouts_and_connection_errors_are_retryable() -> None:
    for exc in (httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError, httpx.ReadError):

        def answer(request: httpx.Request, exc: type[httpx.TransportError] = exc) -> httpx.Response:
            raise exc("boom", request=request)

        with pytest.raises(RetryableDeliveryError, match="oncall/x"):
            post(httpx.Client(transport=httpx.MockTransport(answer)))


def test_a_real_refused_connection_is_retryable() -> None:
    with httpx.Client() as client, pytest.raises(RetryableDeliveryError, match="ConnectError"):
        post(client, f"http://127.0.0.1:{free_port()}/hook")


def test_an_unusable_url_is_permanent() -> None:
    with httpx.Client() as client, pytest.raises(PermanentDeliveryError, match="unusable URL"):
        post(client, "ftp://files.example.com/hook")


def test_message_quotes_a_short_body_with_secrets_redacted() -> None:
    body = "invalid routing key R0UTING-KEY-123 " + "x" * 500
    with pytest.raises(PermanentDeliveryError) as info:
        post(respond(400, body), secrets=["R0UTING-KEY-123"])
    text = str(info.value)
    assert "R0UTING-KEY-123" not in text and "invalid routing key ***" in text
    assert len(text) < 300 and text.endswith("…")


def test_the_url_itself_is_redacted_from_what_a_server_quotes_back() -> None:
    url = "https://hooks.example.com/services/SECRET-PATH"
    with pytest.raises(PermanentDeliveryError) as info:
        post(respond(404, f"no hook at {url}"), url=url)
    assert "SECRET-PATH" not in str(info.value)


def test_mask_url() -> None:
    secret = "https://hooks.example.com/services/T0/B0/XYZ"
    assert http.mask_url(secret, secret=True) == "https://hooks.example.com/***"
    assert http.mask_url("http://u:pw@am:9093/api?x=1", secret=False) == "http://am:9093/api"
    assert http.mask_url("http://[::1:bad", secret=False) == "***"
