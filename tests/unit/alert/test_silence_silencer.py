"""Silences: states, validation with located errors, replacement rules, until-resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from anomalert.alert.matchers import Matcher
from anomalert.alert.silence import Silence, Silencer
from anomalert.errors import FieldError
from anomalert.model import Alert, fingerprint


def matchers(*texts: str) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(t) for t in texts)


def silence(*texts: str, start: float = 0.0, end: float | None = 100.0, **kw: object) -> Silence:
    return Silence("", matchers(*texts), start, end, "ana", "maintenance", **kw)  # type: ignore[arg-type]


def alert(status: str = "firing", **labels: str) -> Alert:
    lab = {"alertname": "Down", "service": "api", "severity": "P1", **labels}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        0.0,
        None,
        status,
        0.9,
        "P1",
        "alerting",
        "rule",
        0.0,  # type: ignore[arg-type]
    )


def test_states_over_time() -> None:
    s = silence("service=api", start=10.0, end=20.0)
    assert [s.state(t) for t in (5.0, 10.0, 19.9, 20.0)] == [
        "pending",
        "active",
        "active",
        "expired",
    ]


@pytest.mark.parametrize(
    ("texts", "start", "end", "field"),
    [
        ((), 0.0, 10.0, "matchers"),
        (('team=""',), 0.0, 10.0, "matchers[0].value"),
        (("env!=prod", 'x=~".*"'), 0.0, 10.0, "matchers[0].value"),
        (("service=api",), 10.0, 5.0, "endsAt"),
        (("service=api",), 0.0, None, "endsAt"),
    ],
)
def test_invalid_silences_name_the_field(
    texts: tuple[str, ...], start: float, end: float | None, field: str
) -> None:
    with pytest.raises(FieldError) as err:
        silence(*texts, start=start, end=end)
    assert err.value.field == field


def test_one_non_empty_matcher_is_enough() -> None:
    s = silence("env!=prod", "service=api")
    assert s.matches({"service": "api"}) and not s.matches({"service": "api", "env": "prod"})


def test_new_silences_must_last_and_not_be_over() -> None:
    silencer = Silencer()
    with pytest.raises(FieldError, match="after startsAt"):
        silencer.add(silence("service=api", start=10.0, end=10.0), now=0.0)
    with pytest.raises(FieldError, match="in the past"):
        silencer.add(silence("service=api", start=0.0, end=50.0), now=60.0)


def test_until_resolved_needs_no_end() -> None:
    silencer = Silencer()
    s = silencer.add(silence("service=api", end=None, until_resolved=True), now=0.0)
    assert s.id and s.state(1e9) == "active"


def test_mutes_only_while_active() -> None:
    silencer = Silencer()
    s = silencer.add(silence("service=~ap.*", start=10.0, end=20.0), now=0.0)
    labels = {"service": "api"}
    assert [silencer.mutes(labels, t) for t in (5.0, 15.0, 25.0)] == [False, True, False]
    assert silencer.silenced_by(labels, 15.0) == [s.id]
    assert silencer.silenced_by({"service": "db"}, 15.0) == []


def test_expire_keeps_history_and_is_idempotent() -> None:
    silencer = Silencer()
    s = silencer.add(silence("service=api", end=100.0), now=0.0)
    expired = silencer.expire(s.id, 30.0)
    assert expired.ends_at == 30.0 and expired.state(30.0) == "expired"
    assert silencer.expire(s.id, 40.0) == expired
    assert silencer.list(now=40.0, state="expired") == [expired]
    with pytest.raises(FieldError) as err:
        silencer.expire("nope", 40.0)
    assert err.value.field == "id"


def test_expiring_a_pending_silence_means_it_never_started() -> None:
    silencer = Silencer()
    s = silencer.add(silence("service=api", start=50.0, end=100.0), now=0.0)
    expired = silencer.expire(s.id, 10.0)
    assert (expired.starts_at, expired.ends_at) == (10.0, 10.0)
    assert not silencer.mutes({"service": "api"}, 60.0)
    reloaded = Silencer()
    assert reloaded.add(expired) == expired  # what the store kept loads back as it is


def test_replace_in_place_or_as_a_new_silence() -> None:
    silencer = Silencer()
    s = silencer.add(silence("service=api", end=100.0), now=0.0)
    longer = silencer.add(replace(s, ends_at=200.0, comment="longer"), now=10.0)
    assert longer.id == s.id and silencer.get(s.id) == longer
    other = silencer.add(replace(longer, matchers=matchers("service=db")), now=20.0)
    assert other.id != s.id  # an active silence cannot change what it mutes
    old = silencer.get(s.id)
    assert old is not None and old.state(20.0) == "expired"
    assert silencer.silenced_by({"service": "db"}, 20.0) == [other.id]


def test_alert_resolved_expires_matching_until_resolved_silences() -> None:
    changes: list[Silence] = []
    silencer = Silencer(persist=changes.extend)
    keep = silencer.add(silence("service=api", end=500.0), now=0.0)
    until = silencer.add(silence("service=api", end=None, until_resolved=True), now=0.0)
    other = silencer.add(silence("service=db", end=None, until_resolved=True), now=0.0)
    changes.clear()
    changed = silencer.alert_resolved(alert("resolved"), 42.0)
    assert [s.id for s in changed] == [until.id] and changes == changed
    assert changed[0].ends_at == 42.0
    assert silencer.silenced_by({"service": "api"}, 43.0) == [keep.id]
    assert silencer.silenced_by({"service": "db"}, 43.0) == [other.id]


class Refusing:
    """A store that takes writes until told to refuse them."""

    def __init__(self) -> None:
        self.saved: dict[str, Silence] = {}
        self.refuse = False

    def __call__(self, silences: Sequence[Silence]) -> None:
        if self.refuse:
            raise OSError("the store is gone")
        self.saved.update((s.id, s) for s in silences)


def test_a_change_the_store_refused_leaves_memory_as_the_store_is() -> None:
    """Memory changed before the write: a refused silence muted (until a restart forgot it),
    a refused expiry stopped muting (until a restart brought it back)."""
    store = Refusing()
    silencer = Silencer(persist=store)
    kept = silencer.add(silence("service=api", end=500.0), now=0.0)
    until = silencer.add(silence("service=db", end=None, until_resolved=True), now=0.0)
    store.refuse = True
    with pytest.raises(OSError):
        silencer.add(silence("service=web", end=500.0), now=10.0)
    with pytest.raises(OSError):
        silencer.expire(kept.id, 10.0)
    with pytest.raises(OSError):
        silencer.add(replace(kept, matchers=matchers("service=web")), now=10.0)
    with pytest.raises(OSError):
        silencer.alert_resolved(alert("resolved", service="db"), 10.0)
    assert {s.id: s for s in silencer.list()} == store.saved == {kept.id: kept, until.id: until}
    assert not silencer.mutes({"service": "web"}, 20.0)
    assert silencer.silenced_by({"service": "api"}, 20.0) == [kept.id]
    assert silencer.silenced_by({"service": "db"}, 20.0) == [until.id]


def test_replacing_an_active_silence_writes_both_changes_at_once() -> None:
    writes: list[list[str]] = []
    silencer = Silencer(persist=lambda changed: writes.append([s.id for s in changed]))
    s = silencer.add(silence("service=api", end=100.0), now=0.0)
    other = silencer.add(replace(s, matchers=matchers("service=db")), now=20.0)
    assert writes == [[s.id], [s.id, other.id]]


def test_dict_round_trip() -> None:
    s = Silencer().add(silence('service=~"api|web"', "env!=dev", end=None, until_resolved=True), 0)
    assert Silence.from_dict(s.to_dict()) == s
