"""Settings: the TOML file documents exactly the code's defaults; the environment overrides."""

from __future__ import annotations

import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from payflow.config import Settings, default_data_dir, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_toml_file_documents_every_default_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_CONFIG", str(ROOT / "nowhere.toml"))
    code_defaults = Settings().model_dump(by_alias=False)
    file_values = tomllib.loads((ROOT / "config" / "payflow.toml").read_text())
    file_values["log"]["json_logs"] = file_values["log"].pop("json")
    # TOML has no null: a setting that is unset by default is documented as a comment.
    unset = {
        (section, key)
        for section, keys in code_defaults.items()
        for key, value in keys.items()
        if value is None
    }
    assert unset == {("faults", "seed")}
    assert "# seed = " in (ROOT / "config" / "payflow.toml").read_text()
    for section, key in unset:
        file_values[section][key] = None
    assert file_values == code_defaults


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_SERVER__PORT", "9123")
    monkeypatch.setenv("PAYFLOW_PROCESSING__DELAY_SECONDS", "0")
    monkeypatch.setenv("PAYFLOW_WEBHOOKS__SECRET", "s3cret")
    settings = load_settings()
    assert settings.server.port == 9123
    assert settings.processing.delay_seconds == 0
    assert settings.webhooks.secret == "s3cret"


def test_mongo_uri_selects_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URI", "mongodb://db.example:27017")
    assert load_settings().mongo.uri == "mongodb://db.example:27017"


def test_webhook_target_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_SERVER__HOST", "0.0.0.0")  # noqa: S104 - what is tested
    monkeypatch.setenv("PAYFLOW_SERVER__PORT", "8080")
    settings = load_settings()
    assert settings.webhook_target_url == "http://127.0.0.1:8080/api/webhooks/payments"


def test_unknown_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_WEBHOOKS__SCHEME", "md5")
    with pytest.raises(ValueError, match="scheme"):
        load_settings()


def test_clock_mode_and_start_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_CLOCK__MODE", "test")
    monkeypatch.setenv("PAYFLOW_CLOCK__START", "2030-01-01T12:00:00.1234+02:00")
    settings = load_settings()
    assert settings.clock.mode == "test"
    assert settings.clock.start_at == datetime(2030, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(("name", "value"), [("MODE", "frozen"), ("START", "next tuesday")])
def test_a_bad_clock_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"PAYFLOW_CLOCK__{name}", value)
    with pytest.raises(ValueError, match="clock"):
        load_settings()


def test_data_stays_in_a_checkout_that_has_payflows_config(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "payflow.toml").write_text("")
    assert default_data_dir(tmp_path, {}) == tmp_path / ".payflow" / "db"


def test_data_stays_where_a_payflow_directory_already_is(tmp_path: Path) -> None:
    (tmp_path / ".payflow").mkdir()
    assert default_data_dir(tmp_path, {}) == tmp_path / ".payflow" / "db"


@pytest.mark.skipif(sys.platform in {"darwin", "win32"}, reason="the XDG layout is Linux's")
def test_elsewhere_data_goes_to_the_users_data_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    data_home = tmp_path / "share"
    assert default_data_dir(elsewhere, {"XDG_DATA_HOME": str(data_home)}) == (
        data_home / "payflow" / "db"
    )
    assert default_data_dir(elsewhere, {}) == Path.home() / ".local" / "share" / "payflow" / "db"


def test_a_configured_data_dir_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAYFLOW_EMBEDDED__DATA_DIR", str(tmp_path / "db"))
    assert load_settings().embedded_data_dir == str(tmp_path / "db")
