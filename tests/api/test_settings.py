"""The server's settings: every variable of the table read from the environment, its
default when unset, switches and optional numbers, overrides, and the derived origins."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

import api.settings
from api.settings import Settings

#: variable -> (text set, field, value read).
READS: dict[str, tuple[str, str, Any]] = {
    "DATABASE_URL": ("postgresql://db/x", "database_url", "postgresql://db/x"),
    "GAVEL_HOST": ("0.0.0.0", "host", "0.0.0.0"),
    "GAVEL_PORT": ("9001", "port", 9001),
    "GAVEL_DATA_DIR": ("/srv/gavel", "data_dir", Path("/srv/gavel")),
    "GAVEL_SIGNING_KEY": (
        "-----BEGIN PRIVATE KEY-----",
        "signing_key_pem",
        "-----BEGIN PRIVATE KEY-----",
    ),
    "GAVEL_ALLOWED_ORIGINS": (
        " https://a.example, ,https://b.example ",
        "allowed_origins",
        ("https://a.example", "https://b.example"),
    ),
    "GAVEL_TOKEN_TTL_S": ("60", "token_ttl_s", 60),
    "GAVEL_RATE_PER_S": ("2.5", "rate_per_s", 2.5),
    "GAVEL_RATE_BURST": ("7", "rate_burst", 7),
    "GAVEL_COMMIT_MODE": ("single", "commit_mode", "single"),
    "GAVEL_COMMIT_WINDOW_US": ("500", "commit_window_us", 500),
    "GAVEL_MAX_BODY": ("1024", "max_body", 1024),
    "GAVEL_SOCKET_QUEUE": ("10", "socket_queue", 10),
    "GAVEL_HEARTBEAT_S": ("0.5", "heartbeat_s", 0.5),
    "GAVEL_LOG_LEVEL": ("DEBUG", "log_level", "DEBUG"),
    "GAVEL_WS_RATE_PER_S": ("3.5", "ws_rate_per_s", 3.5),
    "GAVEL_WS_RATE_BURST": ("4", "ws_rate_burst", 4),
    "GAVEL_WS_TOKEN_RATE_PER_S": ("0.25", "ws_token_rate_per_s", 0.25),
    "GAVEL_WS_TOKEN_RATE_BURST": ("2", "ws_token_rate_burst", 2),
    "GAVEL_RUNNER_IDLE_S": ("1.5", "runner_idle_s", 1.5),
    "GAVEL_RUNNER_QUEUE": ("11", "runner_queue", 11),
    "GAVEL_WRITER_BACKLOG": ("12", "writer_backlog", 12),
    "GAVEL_OUTCOME_WAIT_S": ("0.1", "outcome_wait_s", 0.1),
    "GAVEL_SNAPSHOT_EVERY": ("0", "snapshot_every", 0),
    "GAVEL_AUDIT": ("off", "audit", False),
    "GAVEL_AUDIT_PREFIX": ("example.org", "audit_prefix", "example.org"),
    "GAVEL_DB_WAIT_S": ("2", "db_wait_s", 2.0),
    "GAVEL_RECLAIM": ("no", "reclaim", False),
    "GAVEL_DEBUG_MEMORY": ("ON", "debug_memory", True),
    "NATS_URL": ("nats://10.0.0.5:4222", "nats_url", "nats://10.0.0.5:4222"),
    "GAVEL_CLUSTER": ("tender-portal", "cluster_name", "tender-portal"),
    "GAVEL_NODE_ID": ("node-7", "node_id", "node-7"),
    "GAVEL_NODE_URL": ("https://n7.example", "node_url", "https://n7.example"),
    "GAVEL_LEASE_TTL_S": ("5", "lease_ttl_s", 5.0),
    "GAVEL_LEASE_RENEW_S": ("0.5", "lease_renew_s", 0.5),
    "GAVEL_LISTEN_FD": ("3", "listen_fd", 3),
}


def test_an_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings().data_dir == Path("var") and Settings().db_wait_s is None


@pytest.mark.parametrize("variable", sorted(READS))
def test_each_variable_sets_its_field(variable: str) -> None:
    text, name, value = READS[variable]
    settings = Settings.from_env({variable: text})
    assert getattr(settings, name) == value
    others = {f.name for f in dataclasses.fields(Settings)} - {name}
    assert {n: getattr(settings, n) for n in others} == {n: getattr(Settings(), n) for n in others}


def test_every_variable_read_is_in_the_table_and_tested() -> None:
    """The module docstring's table names every variable ``from_env`` reads."""
    source = Path(api.settings.__file__).read_text("utf-8")
    body = source[source.index("def from_env") :]
    read = set(re.findall(r'"((?:GAVEL|DATABASE|NATS)_[A-Z_]+)"', body))
    assert read == set(READS)
    table = api.settings.__doc__ or ""
    for variable in read:
        named = variable if not variable.startswith("GAVEL_WS_TOKEN") else "GAVEL_WS_TOKEN_RATE_"
        assert f"``{named}" in table, f"{variable} is missing from the settings table"


@pytest.mark.parametrize("empty", ["DATABASE_URL", "GAVEL_SIGNING_KEY", "GAVEL_AUDIT_PREFIX"])
def test_an_empty_text_is_unset(empty: str) -> None:
    assert Settings.from_env({empty: ""}) == Settings()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("on", True),
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("off", False),
        ("0", False),
        ("False", False),
        ("no", False),
        ("", True),
    ],
)
def test_switches(text: str, value: bool) -> None:
    assert Settings.from_env({"GAVEL_AUDIT": text}).audit is value


def test_a_switch_that_is_neither_on_nor_off_is_refused() -> None:
    with pytest.raises(ValueError, match="GAVEL_RECLAIM must be on or off, not 'maybe'"):
        Settings.from_env({"GAVEL_RECLAIM": "maybe"})


def test_a_malformed_number_is_refused() -> None:
    with pytest.raises(ValueError):
        Settings.from_env({"GAVEL_PORT": "eighty"})
    with pytest.raises(ValueError):
        Settings.from_env({"GAVEL_WS_RATE_BURST": "1.5"})


def test_optional_numbers_are_none_when_unset_or_empty() -> None:
    settings = Settings.from_env({"GAVEL_WS_RATE_PER_S": "", "GAVEL_DB_WAIT_S": ""})
    assert settings.ws_rate_per_s is None and settings.db_wait_s is None


def test_overrides_win_and_none_means_keep() -> None:
    env = {"GAVEL_PORT": "9001", "GAVEL_HOST": "0.0.0.0"}
    settings = Settings.from_env(env, port=9100, host=None, demo=True)
    assert (settings.port, settings.host, settings.demo) == (9100, "0.0.0.0", True)


def test_the_default_environment_is_the_process_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAVEL_PORT", "8765")
    assert Settings.from_env().port == 8765


def test_origins_and_base_url() -> None:
    settings = Settings(host="10.0.0.1", port=81)
    assert settings.base_url == "http://10.0.0.1:81"
    assert settings.origins == {
        "http://10.0.0.1:81",
        "http://localhost:81",
        "http://127.0.0.1:81",
    }
    listed = Settings(allowed_origins=("https://a.example",))
    assert listed.origins == {"https://a.example"}


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1
