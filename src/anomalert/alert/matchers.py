"""Label matchers, and the one question silences and inhibitions both answer.

A matcher is Alertmanager's ``name op value``: ``=``, ``!=``, ``=~``, ``!~``. Regexes are
anchored at both ends as in Alertmanager (``service=~"api"`` does not match ``api-gw``), and a
missing label matches as the empty string, so ``team=""`` means "has no team label".

Regexes are RE2's (the ``google-re2`` binding), as Alertmanager's are Go's: the same syntax
(no backreferences or lookarounds, which Alertmanager refuses too), and matching in time
linear in the label's length. Python's ``re`` backtracks: a silence ``service=~"(a+)+$"``,
accepted from the API, took 9.9 s to test against one alert whose service was 28 a's and an
``!``, and held the whole service meanwhile (a fuzzing review, 2026-12-07).

>>> Matcher.parse('service=~"api|web"').matches({"service": "web"})
True
>>> Matcher.parse("env!=prod").matches({})
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import re2
from pydantic import AfterValidator

from anomalert.errors import FieldError
from anomalert.model import Labels

Op = Literal["=", "!=", "=~", "!~"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The keys of a matcher in Alertmanager's API (``isEqual`` since 0.22).
API_KEYS = ("name", "value", "isRegex", "isEqual")
# Longest operators first, so "=~" is not read as "=" followed by a value starting with "~".
_SPLIT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class Muter(Protocol):
    """Does something (a silence, an inhibition) mute an alert with these labels right now?"""

    def mutes(self, labels: Labels, now: float) -> bool: ...


@dataclass(frozen=True)
class Matcher:
    """One ``name op value`` test on a label set; compare and hash by its text."""

    name: str
    op: Op
    value: str
    _regex: re2._Regexp | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise FieldError("name", f"{self.name!r} is not a label name")
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", _compile(self.value))

    @classmethod
    def parse(cls, text: str, where: str = "") -> Matcher:
        """Read ``name=value``, ``name!="value"``, ``name=~re`` or ``name!~"re"``.

        ``where`` prefixes error locations (``matchers[2]``) so a config error says where.
        """
        m = _SPLIT.match(text)
        if m is None:
            raise FieldError(where, f"{text!r} is not a matcher like 'name=value' or 'name=~re'")
        name, op, raw = m.groups()
        try:
            return cls(name, op, _unquote(raw))  # type: ignore[arg-type]
        except FieldError as exc:
            raise FieldError(_join(where, exc.field), exc.problem) from None

    @classmethod
    def from_api(cls, data: Mapping[str, Any], where: str = "") -> Matcher:
        """From Alertmanager's API shape ``{name, value, isRegex, isEqual}``; any other key
        is refused, since a typo (``isregex``) would make a literal matcher that mutes nothing.
        """
        if not isinstance(data, Mapping):
            raise FieldError(where, "a matcher object {name, value, isRegex, isEqual}")
        unknown = sorted(set(data) - set(API_KEYS))
        if unknown:
            raise FieldError(_join(where, unknown[0]), f"unknown field; use {', '.join(API_KEYS)}")
        for key in ("name", "value"):
            if not isinstance(data.get(key), str):
                raise FieldError(_join(where, key), "required, a string")
        is_regex, is_equal = data.get("isRegex", False), data.get("isEqual", True)
        for key, flag in (("isRegex", is_regex), ("isEqual", is_equal)):
            if not isinstance(flag, bool):
                raise FieldError(_join(where, key), "must be true or false")
        op: Op = ("=~" if is_equal else "!~") if is_regex else ("=" if is_equal else "!=")
        try:
            return cls(data["name"], op, data["value"])
        except FieldError as exc:
            raise FieldError(_join(where, exc.field), exc.problem) from None

    def to_api(self) -> dict[str, Any]:
        """To Alertmanager's API shape."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.op in ("=~", "!~"),
            "isEqual": self.op in ("=", "=~"),
        }

    def matches(self, labels: Mapping[str, str]) -> bool:
        """A missing label counts as the empty string, as in Alertmanager."""
        actual = labels.get(self.name, "")
        if self._regex is not None:
            return (self._regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def parse_all(texts: Iterable[str], where: str = "matchers") -> tuple[Matcher, ...]:
    """Parse a config list, each error located as ``matchers[i]``."""
    return tuple(Matcher.parse(t, f"{where}[{i}]") for i, t in enumerate(texts))


def _check_text(text: str) -> str:
    try:
        Matcher.parse(text)
    except FieldError as exc:
        raise ValueError(exc.problem) from None
    return text


#: A matcher written in the YAML config; validated at load time so errors carry the location.
MatcherText = Annotated[str, AfterValidator(_check_text)]


def _compile(pattern: str) -> re2._Regexp:
    """An RE2 regex (see the module's docstring), or a FieldError on ``value`` saying why
    not; RE2's own log line for it is turned off (the error says it once)."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise FieldError("value", f"invalid regex {pattern!r}: {detail}") from None


def _unquote(raw: str) -> str:
    """Strip double quotes; keep unknown escapes (``\\d``) so regexes survive quoting."""
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return raw
    out: list[str] = []
    body, i = raw[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\n':
            nxt = body[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _join(where: str, field_name: str) -> str:
    return f"{where}.{field_name}" if where and field_name else where or field_name
