"""docs/configuration.md is the reference of every config key, and stays true.

The key paths come from the pydantic models themselves (``Config`` and everything nested in
it), so a new setting without a row in the reference fails here, and so does a row for a
setting that no longer exists. Defaults written as a literal in the reference are compared
with the code's. The reference's complete example and the bundled demo config must load, and
config errors must say where the problem is (and never print a secret).
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from anomalert.alert.promrules import export_prometheus_rules
from anomalert.alert.route import Route, routes_test
from anomalert.cli import app as cli
from anomalert.config import Config, load_config, parse_config
from anomalert.configbase import parse_duration
from anomalert.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
PLACEHOLDER = re.compile(r"<[^>]*>")
ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MINIMAL: dict[str, Any] = {"route": {"receiver": "ops"}, "receivers": [{"name": "ops", "log": {}}]}


# -- the models' key paths -----------------------------------------------------------------


def _nested(tp: Any) -> list[tuple[str, type[BaseModel]]]:
    """The models inside an annotation, each with the path suffix that reaches it:
    ``[]`` for a list or tuple item, ``.<*>`` for a mapping value."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _nested(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _nested(arg)]
    if origin in (list, tuple, set, frozenset):
        return [(f"[]{s}", m) for a in get_args(tp) if a is not Ellipsis for s, m in _nested(a)]
    if origin is dict:
        return [(f".<*>{s}", m) for s, m in _nested(get_args(tp)[1])]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [("", tp)]
    return []


def walk(
    model: type[BaseModel], prefix: str = "", seen: tuple[type[BaseModel], ...] = ()
) -> Iterator[tuple[str, FieldInfo]]:
    """Every key path of a model as the YAML writes it (aliases: ``for``, ``continue``), with
    its field. A model nested in itself (``route.routes``) stops at the recursion."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        yield path, info
        for suffix, sub in _nested(info.annotation):
            if sub is not model and sub not in seen:
                yield from walk(sub, path + suffix, (*seen, model))


KEYS: dict[str, FieldInfo] = dict(walk(Config))


# -- the reference's tables ----------------------------------------------------------------


def normalise(path: str) -> str:
    """``services.<name>.metrics.<metric>`` and ``services.<*>.metrics.<*>`` compare equal."""
    return PLACEHOLDER.sub("<*>", path)


def rows() -> dict[str, tuple[str, str, str]]:
    """Documented key path -> (type, default, meaning), from every ``| `key` | ...`` row."""
    found: dict[str, tuple[str, str, str]] = {}
    for line in DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"a key row needs key | type | default | meaning: {line}"
        key, kind, default, meaning = cells
        path = normalise(key.strip("`"))
        assert path not in found, f"{key} is documented twice"
        assert kind and default and meaning, f"{key}: every cell is filled in"
        found[path] = (kind, default, meaning)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    return value


def _documented_default(cell: str, expected: Any) -> Any:
    """The value a default cell states: ``unset`` is None, a `literal` is read as YAML."""
    if cell == "unset":
        return None
    value = yaml.safe_load(cell.strip("`"))
    if isinstance(value, str) and isinstance(expected, float):
        return parse_duration(value)  # durations are written "5m", "1h", "30d"
    return value


def test_every_config_key_is_documented() -> None:
    documented = set(rows())
    missing = sorted(p for p in KEYS if normalise(p) not in documented)
    assert not missing, f"add these keys to docs/configuration.md: {missing}"


def test_every_documented_key_exists() -> None:
    known = {normalise(p) for p in KEYS}
    stale = sorted(p for p in rows() if p not in known)
    assert not stale, f"docs/configuration.md documents keys the config does not have: {stale}"


def test_documented_defaults_are_the_code_defaults() -> None:
    """A default written as `literal` (or ``unset``) must be the model's; ``required`` must
    be what the model requires. Prose defaults (inheritance, tables) are not compared."""
    table = rows()
    compared = 0
    for path, info in KEYS.items():
        _, cell, _ = table[normalise(path)]
        if info.is_required():
            assert cell == "required", f"{path} is required; the reference says {cell!r}"
            continue
        assert cell != "required", f"{path} has a default; the reference says it is required"
        literal = cell == "unset" or re.fullmatch(r"`[^`]+`", cell) is not None
        if not literal:
            continue
        expected = _plain(info.get_default(call_default_factory=True))
        assert _documented_default(cell, expected) == expected, f"{path}: {cell} != {expected!r}"
        compared += 1
    assert compared >= 100  # most defaults are literals: the comparison is real


# -- examples load -------------------------------------------------------------------------


def complete_example() -> str:
    """The ```yaml block of the "Complete example" section."""
    text = DOC.read_text()
    section = text.split("\n## Complete example", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the Complete example section holds a ```yaml block"
    return match.group(1)


def test_the_complete_example_loads_and_covers_every_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = complete_example()
    for name in ENV.findall(text):
        monkeypatch.setenv(name, f"https://secret.example.com/{name.lower()}")
    data = yaml.safe_load(text)
    assert set(data) == set(Config.model_fields), "the complete example shows every section"
    config = parse_config(data, "docs/configuration.md")
    route = Route.build(config.route)
    assert routes_test(route, {"service": "payments", "severity": "P1"}) == ["shop-oncall"]
    assert routes_test(route, {"service": "search", "severity": "P2"}) == ["team-chat"]
    assert "groups:" in export_prometheus_rules(config.rules)
    assert config.server.write_tokens[0].get_secret_value().startswith("https://secret.")
    clock_of = config.clock_of()  # each service's wall clock: its own zone, else the default
    assert (clock_of("search").zone, clock_of("payments").zone) == (
        "America/New_York",
        "Europe/Berlin",
    )
    # The same file through the CLI, as the reference tells people to check it.
    path = tmp_path / "anomalert.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    result = CliRunner().invoke(cli, ["routes", "test", str(path), "service=db", "severity=P1"])
    assert result.exit_code == 0 and result.output.split() == ["shop-oncall", "dba-oncall"]


def test_the_bundled_demo_config_loads() -> None:
    demo = resources.files("anomalert") / "demo" / "demo.yaml"
    with resources.as_file(demo) as path:
        config = load_config(path)
    assert config.services and config.escalations
    Route.build(config.route)


# -- errors say where ----------------------------------------------------------------------


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_an_integration_error_names_its_location_not_its_value() -> None:
    bad = {**MINIMAL, "receivers": [{"name": "ops", "webhook": {"url": "ftp://x/tok-1234"}}]}
    ((where, message),) = problems(bad)
    assert where == "receivers[0].webhook[0].url"
    assert "http" in message and "tok-1234" not in message
    missing = {**MINIMAL, "receivers": [{"name": "ops", "slack": [{"channel": "#ops"}]}]}
    assert problems(missing) == [("receivers[0].slack[0].url", "Field required")]


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"server": {"hots": "127.0.0.1"}}, "server.hots"),
        ({"services": {"checkout": {"metrics": {"p99": {"treshold": 0.95}}}}}, None),
        ({"storage": {"retention": {"alerts": "90d"}}}, "storage.retention.alerts"),
        ({"timezone": "UTC"}, "timezone"),
    ],
)
def test_an_unknown_key_is_an_error_at_its_location(
    patch: dict[str, Any], where: str | None
) -> None:
    found = problems({**MINIMAL, **patch})
    where = where or "services.checkout.metrics.p99.treshold"
    assert (where, "Extra inputs are not permitted") in found


def test_a_bad_duration_names_its_location() -> None:
    found = problems({**MINIMAL, "route": {"receiver": "ops", "group_wait": "5 minutes"}})
    assert [w for w, _ in found] == ["route.group_wait"]
    assert "duration" in found[0][1]


def test_a_nan_duration_is_refused_by_location() -> None:
    """YAML's .nan compares false with everything: as ``detection.min_age`` no series
    would ever be old enough to alert, so it is refused, not taken."""
    found = problems({**MINIMAL, "detection": {"min_age": float("nan")}})
    assert found == [("detection.min_age", found[0][1])]
    assert "NaN" in found[0][1]


def test_an_unknown_time_zone_is_refused_by_location() -> None:
    found = problems({**MINIMAL, "detection": {"timezone": "Europe/Atlantis"}})
    assert found == [("detection.timezone", found[0][1])]
    assert "unknown time zone 'Europe/Atlantis'" in found[0][1]
    found = problems({**MINIMAL, "services": {"shop": {"timezone": "CEST"}}})
    assert found == [("services.shop.timezone", found[0][1])]


@pytest.mark.parametrize("section, key", [("detection", "min_age"), ("server", "max_sample_age")])
def test_an_infinite_duration_is_refused_by_location(section: str, key: str) -> None:
    """YAML's .inf: a series never old enough to alert, a sample never too old; a finite
    duration says what is meant."""
    found = problems({**MINIMAL, section: {key: float("inf")}})
    assert found == [(f"{section}.{key}", found[0][1])]
    assert "finite" in found[0][1]


def test_an_unknown_receiver_in_a_route_is_named() -> None:
    route = {"receiver": "ops", "routes": [{"matchers": ["severity=P1"], "receiver": "pager"}]}
    ((_, message),) = problems({**MINIMAL, "route": route})
    assert "unknown receiver (route.routes[0].receiver: pager)" in message
    assert "defined: ops" in message


def test_a_missing_environment_variable_names_where_it_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANOMALERT_TEST_UNSET", raising=False)
    receivers = [{"name": "ops", "slack": {"url": "${ANOMALERT_TEST_UNSET}"}}]
    found = problems({**MINIMAL, "receivers": receivers})
    assert found == [
        ("receivers[0].slack.url", "environment variable ANOMALERT_TEST_UNSET is not set")
    ]
    monkeypatch.setenv("ANOMALERT_TEST_UNSET", "https://hooks.example.com/T0/B0/sec-98")
    config = parse_config({**MINIMAL, "receivers": receivers})
    assert "sec-98" not in repr(config) and "sec-98" not in str(config)


def test_listening_beyond_loopback_needs_tokens() -> None:
    ((_, message),) = problems({**MINIMAL, "server": {"host": "0.0.0.0"}})
    assert "server.host 0.0.0.0" in message and "server.write_tokens" in message
    config = parse_config({**MINIMAL, "server": {"host": "0.0.0.0", "admin_tokens": ["t"]}})
    assert config.server.tokens_configured


def test_check_config_prints_each_location_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "route: {receiver: ops}\n"
        "receivers:\n  - name: ops\n    webhook: {url: nope}\n"
        "server: {prot: 80}\n"
    )
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 2
    assert f"{path}: receivers[0].webhook[0].url: " in result.output
    assert f"{path}: server.prot: Extra inputs are not permitted" in result.output
    path.write_text("route: [unclosed\n")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 2 and "line " in result.output
