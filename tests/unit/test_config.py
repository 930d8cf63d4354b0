"""Settings: the TOML file documents exactly the code's defaults; the environment overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from payflow.config import Settings, load_settings

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
