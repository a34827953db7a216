"""Silences: people saying "I know, stop telling me" for alerts matching some labels.

A silence is pending before ``starts_at``, active until ``ends_at`` and expired after, as in
Alertmanager. An "until resolved" silence has no end: it expires when an alert it matches
resolves, so a silence for "the disk on db-3 is full" does not outlive the problem and hide
the next one.

Expiring never deletes: the silence stays listable with its end set to when it was expired,
which is what an audit of "who muted what" needs.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from anomalert.alert.matchers import Matcher, matches_all
from anomalert.errors import FieldError
from anomalert.model import Alert, Labels

State = Literal["pending", "active", "expired"]


@dataclass(frozen=True)
class Silence:
    """Mutes alerts matching every matcher between ``starts_at`` and ``ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float | None
    created_by: str = ""
    comment: str = ""
    until_resolved: bool = False

    def state(self, now: float) -> State:
        """Pending before the start, expired from the end on (the end itself is expired)."""
        if self.ends_at is not None and now >= self.ends_at:
            return "expired"
        return "pending" if now < self.starts_at else "active"

    def matches(self, labels: Labels) -> bool:
        """Whether the labels fall under this silence, whatever its state."""
        return matches_all(self.matchers, labels)

    def __post_init__(self) -> None:
        """Refuse silences that would mute everything or have no end; errors name the field.

        A matcher that matches the empty label set (``team=""``, ``env!=prod``, ``x=~".*"``)
        alone would silence every alert, which Alertmanager refuses too. An end equal to the
        start is allowed here because that is how an expired pending silence looks; a new
        silence must last (:meth:`Silencer.add`).
        """
        if not self.matchers:
            raise FieldError("matchers", "at least one matcher is required")
        if all(m.matches({}) for m in self.matchers):
            raise FieldError(
                "matchers[0].value",
                "at least one matcher must not match the empty string (it would mute everything)",
            )
        if self.ends_at is None and not self.until_resolved:
            raise FieldError("endsAt", "required unless the silence lasts until resolved")
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise FieldError("endsAt", "must be after startsAt")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for storage (times as unix seconds)."""
        return {
            "id": self.id,
            "matchers": [m.to_api() for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "until_resolved": self.until_resolved,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        """The inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            matchers=tuple(
                Matcher.from_api(m, f"matchers[{i}]") for i, m in enumerate(data["matchers"])
            ),
            starts_at=float(data["starts_at"]),
            ends_at=None if data.get("ends_at") is None else float(data["ends_at"]),
            created_by=str(data.get("created_by", "")),
            comment=str(data.get("comment", "")),
            until_resolved=bool(data.get("until_resolved", False)),
        )


class Silencer:
    """Every silence by id; a :class:`~anomalert.alert.matchers.Muter`.

    ``persist`` is given the silences each change writes (added, replaced, expired, expired
    by a resolve), all of them at once, so the service stores them from one place, including
    the expiries the pipeline triggers itself. It is the first write: memory changes only
    once it returned, and when it raises nothing changed. Memory changed first, a failed
    store write left a silence muting alerts and listed (the API answering a 500) that the
    next restart forgot, or an expiry that the next restart undid.
    """

    def __init__(
        self,
        silences: Iterable[Silence] = (),
        persist: Callable[[Sequence[Silence]], None] | None = None,
    ) -> None:
        self._by_id: dict[str, Silence] = {s.id: s for s in silences}
        self._persist = persist

    def add(self, silence: Silence, now: float | None = None) -> Silence:
        """Create (an empty id gets a new one) or replace, returning what is stored.

        With ``now`` (a person's request) the silence must end after it starts and after
        ``now``, and as in Alertmanager an expired silence cannot come back and an active one
        cannot change what it matches: both become a new silence (the active one expires), so
        the history of what was muted stays true. Without ``now`` (loading what the store
        kept) the silence is taken as it is.
        """
        if now is None:
            silence = silence if silence.id else replace(silence, id=str(uuid.uuid4()))
            self._by_id[silence.id] = silence
            return silence
        if silence.ends_at is not None:
            if silence.ends_at <= silence.starts_at:
                raise FieldError("endsAt", "must be after startsAt")
            if silence.ends_at <= now:
                raise FieldError("endsAt", "is in the past")
        old = self._by_id.get(silence.id) if silence.id else None
        fresh_id = not silence.id
        changes: builtins.list[Silence] = []
        if old is not None:
            state = old.state(now)
            if state == "expired" or (state == "active" and old.matchers != silence.matchers):
                if state == "active":
                    changes.append(_expired(old, now))
                fresh_id = True
        if fresh_id:
            silence = replace(silence, id=str(uuid.uuid4()))
        self._store([*changes, silence])
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now; expiring an expired one changes nothing."""
        old = self._by_id.get(silence_id)
        if old is None:
            raise FieldError("id", f"no silence {silence_id!r}")
        if old.state(now) == "expired":
            return old
        expired = _expired(old, now)
        self._store([expired])
        return expired

    def get(self, silence_id: str) -> Silence | None:
        """The silence with this id, in whatever state."""
        return self._by_id.get(silence_id)

    def list(self, now: float | None = None, state: State | None = None) -> builtins.list[Silence]:
        """All silences by start time, optionally only those in ``state`` at ``now``."""
        out = sorted(self._by_id.values(), key=lambda s: (s.starts_at, s.id))
        if state is not None:
            if now is None:
                raise ValueError("filtering by state needs now")
            out = [s for s in out if s.state(now) == state]
        return out

    def silenced_by(self, labels: Labels, now: float) -> builtins.list[str]:
        """Ids of the active silences that mute these labels."""
        return [s.id for s in self.list() if s.state(now) == "active" and s.matches(labels)]

    def mutes(self, labels: Labels, now: float) -> bool:
        """Whether any active silence matches."""
        return any(s.state(now) == "active" and s.matches(labels) for s in self._by_id.values())

    def alert_resolved(self, alert: Alert, now: float) -> builtins.list[Silence]:
        """Expire the "until resolved" silences (active or pending) that match this alert."""
        changed = [
            _expired(s, now)
            for s in self.list()
            if s.until_resolved and s.state(now) != "expired" and s.matches(alert.labels)
        ]
        if changed:
            self._store(changed)
        return changed

    def _store(self, silences: Sequence[Silence]) -> None:
        """Persist first, then take into memory (see the class)."""
        if self._persist is not None:
            self._persist(silences)
        for silence in silences:
            self._by_id[silence.id] = silence


def _expired(silence: Silence, now: float) -> Silence:
    """A pending silence expires as never started (start = end = now), as in Alertmanager."""
    start = now if silence.state(now) == "pending" else silence.starts_at
    return replace(silence, starts_at=start, ends_at=now)
