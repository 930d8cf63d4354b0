"""Settings: `config/payflow.toml` holds the documented defaults, environment overrides.

Precedence, highest first: keyword arguments (tests), environment variables
`PAYFLOW_<SECTION>__<KEY>` (and plain `MONGO_URI`), the TOML file, the defaults below.
The defaults here equal the ones in `config/payflow.toml`; a unit test keeps them in step.
Nothing happens at import: `load_settings()` reads the environment when it is called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET = "super_secret_change_me"  # noqa: S105 - the original sandbox's; warned about off loopback
DEFAULT_CONFIG_FILE = Path("config/payflow.toml")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=262_144, gt=0)
    public_url: str = ""  # how others reach this process; derived from host/port when empty


class MongoSettings(BaseModel):
    uri: str = ""  # empty: start the embedded server
    database: str = "payflow"


class EmbeddedSettings(BaseModel):
    data_dir: str = ".payflow/db"
    port: int = Field(default=0, ge=0, le=65535)  # 0: a free port each start
    startup_timeout_seconds: float = Field(default=20.0, gt=0)


class WebhookSettings(BaseModel):
    secret: str = DEFAULT_SECRET
    previous_secrets: list[str] = Field(default_factory=list)  # still accepted (rotation)
    scheme: str = "payflow"
    target_url: str = ""  # empty: this process's own receiver
    tolerance_seconds: int = Field(default=300, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    rotation_grace_hours: float = Field(default=24.0, ge=0)  # old secret still signs this long
    max_endpoints: int = Field(default=16, ge=1, le=500)  # registered through the API

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


class PaymentSettings(BaseModel):
    # An authorization (manual capture) not captured within this is canceled as `expired`.
    authorization_hours: float = Field(default=168.0, gt=0)  # Stripe's 7 days


class LogSettings(BaseModel):
    level: str = "INFO"
    json_logs: bool = Field(default=True, validation_alias=AliasChoices("json", "json_logs"))


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
