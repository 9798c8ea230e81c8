"""Process settings: environment first, then an optional TOML file (`--config`), then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATABASE_URL = "sqlite:///data/qunbot.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUNBOT_", extra="ignore", populate_by_name=True)

    telegram_token: str | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_TOKEN", "telegram_token")
    )
    telegram_api_base_url: str | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_API_BASE_URL", "telegram_api_base_url")
    )
    telegram_webhook_url: str | None = None  # QUNBOT_TELEGRAM_WEBHOOK_URL: set it to use a webhook
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    telegram_webhook_secret: str | None = None  # checked on every webhook call; random when unset
    discord_token: str | None = Field(None, validation_alias=AliasChoices("DISCORD_TOKEN", "discord_token"))
    discord_shards: int | None = None  # QUNBOT_DISCORD_SHARDS: run an AutoShardedClient with this many shards
    database_url: str = DEFAULT_DATABASE_URL
    files_dir: str = "data/files"  # QUNBOT_FILES_DIR: charts and exports waiting to be sent (pruned weekly)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:port/db")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _TOML_FILE is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_TOML_FILE))
        return tuple(sources)


_TOML_FILE: Path | None = None


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Environment wins over the TOML file, which wins over the defaults."""
    global _TOML_FILE
    path = Path(config_file) if config_file else None
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    _TOML_FILE = path
    try:
        return Settings()
    finally:
        _TOML_FILE = None
