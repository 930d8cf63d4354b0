"""Settings: `config/payflow.toml` holds the documented defaults, environment overrides.

Precedence, highest first: keyword arguments (tests), environment variables
`PAYFLOW_<SECTION>__<KEY>` (and plain `MONGO_URI`), the TOML file, the defaults below.
The defaults here equal the ones in `config/payflow.toml`; a unit test keeps them in step.
Nothing happens at import: `load_settings()` reads the environment when it is called.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from payflow.domain.endpoint_health import BreakerPolicy

DEFAULT_SECRET = "super_secret_change_me"  # noqa: S105 - the original sandbox's; warned about off loopback
DEFAULT_CONFIG_FILE = Path("config/payflow.toml")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=262_144, gt=0)
    # A body refused before it was read (413) is still read, up to this much, so that a
    # client that writes its whole body before reading gets the answer, not a reset.
    drain_max_bytes: int = Field(default=16_777_216, ge=0)
    public_url: str = ""  # how others reach this process; derived from host/port when empty


class MongoSettings(BaseModel):
    uri: str = ""  # empty: start the embedded server
    database: str = "payflow"


class EmbeddedSettings(BaseModel):
    data_dir: str = ""  # empty: `default_data_dir()`; ":memory:" for a throwaway database
    port: int = Field(default=0, ge=0, le=65535)  # 0: a free port each start
    startup_timeout_seconds: float = Field(default=20.0, gt=0)


PROJECT_DATA_DIR = Path(".payflow/db")


def default_data_dir(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded database keeps its data when `[embedded] data_dir` is empty.

    In a directory that already has payflow's files (`config/payflow.toml` or `.payflow/`,
    as in payflow's own checkout or a project that keeps payflow's config beside its code)
    it is `.payflow/db` there, as before; anywhere else the user's data directory, so that
    `payflow serve` run from an installed package does not litter whatever directory it
    was started in: `$XDG_DATA_HOME/payflow/db`, `~/.local/share/payflow/db` by default
    (`~/Library/Application Support/payflow/db` on macOS, `%LOCALAPPDATA%\\payflow\\db`
    on Windows).
    """
    cwd = Path.cwd() if cwd is None else cwd
    environ = os.environ if environ is None else environ
    if (cwd / DEFAULT_CONFIG_FILE).is_file() or (cwd / PROJECT_DATA_DIR.parent).is_dir():
        return cwd / PROJECT_DATA_DIR
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "payflow" / "db"


class WebhookSettings(BaseModel):
    secret: str = DEFAULT_SECRET
    previous_secrets: list[str] = Field(default_factory=list)  # still accepted (rotation)
    scheme: str = "payflow"
    target_url: str = ""  # empty: this process's own receiver
    tolerance_seconds: int = Field(default=300, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    rotation_grace_hours: float = Field(default=24.0, ge=0)  # old secret still signs this long
    max_endpoints: int = Field(default=16, ge=1, le=500)  # registered through the API
    breaker_failures: int = Field(default=5, ge=1)  # consecutive failures open the circuit
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)  # first open period; doubles
    breaker_max_cooldown_seconds: float = Field(default=600.0, gt=0)
    disable_after_hours: float = Field(default=120.0, gt=0)  # no success this long: disabled
    chaos_seed: int = Field(default=-1, ge=-1)  # >= 0: delivery chaos repeats; -1: fresh

    @property
    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(
            failures=self.breaker_failures,
            cooldown=timedelta(seconds=self.breaker_cooldown_seconds),
            max_cooldown=timedelta(seconds=self.breaker_max_cooldown_seconds),
            disable_after=timedelta(hours=self.disable_after_hours),
        )

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value not in {"payflow", "stripe", "standard"}:
            raise ValueError("scheme must be payflow, stripe or standard")
        return value


class ProcessingSettings(BaseModel):
    delay_seconds: float = Field(default=2.0, ge=0)
    concurrency: int = Field(default=64, ge=1, le=4096)
    queue_size: int = Field(default=10_000, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)


class IdempotencySettings(BaseModel):
    retention_hours: float = Field(default=24.0, gt=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    retry_after_seconds: int = Field(default=1, ge=1)


class AuthSettings(BaseModel):
    # Empty: no key needed. Otherwise every /api route but the webhook receiver wants
    # `Authorization: Bearer <key>`, and each key sees only its own orders and idempotency keys.
    api_keys: list[str] = Field(default_factory=list)

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not 1 <= len(key) <= 255 or not all("!" <= ch <= "~" for ch in key):
                raise ValueError("each API key must be 1-255 visible ASCII characters")
        return keys


class RateLimitSettings(BaseModel):
    enabled: bool = False
    requests_per_minute: int = Field(default=1500, ge=1, le=1_000_000)  # per client


class CorsSettings(BaseModel):
    # Browser origins allowed to call the API; [] turns CORS off, ["*"] allows any origin.
    allow_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173"]
    )


class FaultSettings(BaseModel):
    """Faults on demand (`Payflow-Fault` header, fault rules): see `payflow.faults`."""

    enabled: bool = True
    timeout_seconds: float = Field(default=30.0, ge=0, le=3600)  # `timeout` holds this long
    seed: int | None = None  # set: rule rates draw from a seeded generator, runs repeat
    refresh_seconds: float = Field(default=1.0, gt=0, le=60)  # rules cached this long


class ClockSettings(BaseModel):
    # "test": payflow's time stands still until POST /api/test-clock/advance moves it.
    mode: Literal["real", "test"] = "real"
    start: str = ""  # test mode: ISO 8601 time to start from; empty: the real time

    @field_validator("start")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        if value:
            parse_start(value)
        return value

    @property
    def start_at(self) -> datetime | None:
        return parse_start(self.start) if self.start else None


def parse_start(value: str) -> datetime:
    """An ISO 8601 time (UTC when it names no offset), to the millisecond like `utc_now`."""
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class PaymentSettings(BaseModel):
    # An authorization (manual capture) not captured within this is canceled as `expired`.
    authorization_hours: float = Field(default=168.0, gt=0)  # Stripe's 7 days


class LogSettings(BaseModel):
    level: str = "INFO"
    # False: readable lines when stderr is a terminal, JSON lines when it is not.
    json_logs: bool = Field(default=False, validation_alias=AliasChoices("json", "json_logs"))


class Settings(BaseSettings):
    """All of payflow's knobs, grouped the way `config/payflow.toml` groups them."""

    model_config = SettingsConfigDict(
        env_prefix="PAYFLOW_",
        env_nested_delimiter="__",
        extra="ignore",
        toml_file=DEFAULT_CONFIG_FILE,
    )
    config_file: ClassVar[Path | None] = None

    server: ServerSettings = Field(default_factory=ServerSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        # A delivery attempt may take the whole webhook timeout; were the lease shorter,
        # another worker would take the delivery over and send it a second time meanwhile.
        if self.processing.lease_seconds <= self.webhooks.timeout_seconds:
            raise ValueError(
                "processing.lease_seconds must be longer than webhooks.timeout_seconds"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = cls.config_file or Path(os.environ.get("PAYFLOW_CONFIG", DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def base_url(self) -> str:
        """Where this process can be reached by its own webhook sender."""
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - mapping a wildcard bind to loopback
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    @property
    def embedded_data_dir(self) -> str:
        """`[embedded] data_dir`, or where `default_data_dir` puts it when that is empty."""
        return self.embedded.data_dir or str(default_data_dir())

    @property
    def webhook_target_url(self) -> str:
        return self.webhooks.target_url or f"{self.base_url}/api/webhooks/payments"

    @property
    def webhook_secrets(self) -> list[str]:
        return [self.webhooks.secret, *self.webhooks.previous_secrets]


def load_settings(**overrides: Any) -> Settings:
    """Read the TOML file and the environment now; `MONGO_URI` selects a real mongod."""
    settings = Settings(**overrides)
    mongo_uri = os.environ.get("MONGO_URI")
    if mongo_uri and not settings.mongo.uri:
        settings.mongo.uri = mongo_uri
    return settings
