"""Matchers: Alertmanager's four operators, anchored regexes, the API shape, located errors."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from anomalert.alert.matchers import Matcher, MatcherText, parse_all
from anomalert.errors import FieldError


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("service=api", {"service": "api"}, True),
        ("service=api", {"service": "api-gw"}, False),
        ('service="api"', {"service": "api"}, True),
        ("service!=api", {"service": "web"}, True),
        ("service!=api", {"service": "api"}, False),
        ("service=~api|web", {"service": "web"}, True),
        ("service=~api", {"service": "api-gw"}, False),  # anchored at both ends
        ("service=~api.*", {"service": "api-gw"}, True),
        ('service!~"db-.*"', {"service": "db-3"}, False),
        ('service!~"db-.*"', {"service": "api"}, True),
        ('team=""', {}, True),  # a missing label is the empty string
        ('team=""', {"team": "core"}, False),
        ("env!=prod", {}, True),
        (r'instance=~"host-\d+"', {"instance": "host-12"}, True),
        (' severity = "P1" ', {"severity": "P1"}, True),
    ],
)
def test_operators_follow_alertmanager(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_quoted_values_keep_equals_and_escapes() -> None:
    m = Matcher.parse(r'summary="a=b \"quoted\""')
    assert (m.name, m.op, m.value) == ("summary", "=", 'a=b "quoted"')
    assert Matcher.parse(str(m)) == m


@pytest.mark.parametrize("op", ["=", "!=", "=~", "!~"])
def test_api_shape_round_trips(op: str) -> None:
    m = Matcher.parse(f"service{op}api")
    data = m.to_api()
    assert set(data) == {"name", "value", "isRegex", "isEqual"}
    assert Matcher.from_api(data) == m


def test_api_shape_defaults_to_equal() -> None:
    m = Matcher.from_api({"name": "service", "value": "a.*", "isRegex": True})
    assert m.op == "=~" and m.matches({"service": "abc"})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "service", "value": "(", "isRegex": True}, "matchers[2].value"),
        ({"name": "1bad", "value": "x"}, "matchers[2].name"),
        ({"name": "service", "value": "a.*", "isregex": True}, "matchers[2].isregex"),
        ({"value": "x"}, "matchers[2].name"),
        ({"name": "a", "value": "x", "isEqual": "yes"}, "matchers[2].isEqual"),
    ],
)
def test_api_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as err:
        Matcher.from_api(data, "matchers[2]")
    assert err.value.field == field


def test_parse_errors_are_located() -> None:
    with pytest.raises(FieldError) as err:
        parse_all(["service=api", "nonsense"])
    assert err.value.field == "matchers[1]"
    with pytest.raises(FieldError) as err:
        parse_all(["service=~("])
    assert err.value.field == "matchers[0].value"


def test_config_text_is_validated_at_load() -> None:
    adapter = TypeAdapter(list[MatcherText])
    assert adapter.validate_python(["a=b"]) == ["a=b"]
    with pytest.raises(ValidationError) as err:
        adapter.validate_python(["a=b", "a=~("])
    assert err.value.errors()[0]["loc"] == (1,)


def test_regexes_are_re2s_linear_in_the_labels_length() -> None:
    """Alertmanager's regexes are Go's (RE2): matching never backtracks. Under Python's
    ``re`` this nested quantifier took 9.9 s on the 29-character label (exponential in its
    length); under RE2 the answer is the same at once (the next test tells the engines
    apart without a timing)."""
    silence = Matcher.parse('service=~"(a+)+$"')
    assert silence.matches({"service": "a" * 28}) is True
    assert silence.matches({"service": "a" * 28 + "!"}) is False


def test_what_re2_cannot_match_is_refused_naming_the_value() -> None:
    """Backreferences (and lookarounds) are not RE2, nor Alertmanager's: refused at once."""
    with pytest.raises(FieldError) as err:
        Matcher.parse(r'service=~"(a)\1"', "matchers[0]")
    assert err.value.field == "matchers[0].value"
    assert "invalid regex" in err.value.problem and "escape" in err.value.problem
    with pytest.raises(FieldError, match="invalid regex"):
        Matcher.from_api({"name": "service", "value": "(?=api)", "isRegex": True})
