"""The one settings object: the only place opsradar reads the environment (prefix ``OPSRADAR_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults point at the local stack that ``make up`` starts on 127.0.0.1."""

    model_config = SettingsConfigDict(env_prefix="OPSRADAR_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers, host:port[,...]"
    )
    database_url: str = Field(
        "postgresql+asyncpg://opsradar:opsradar@127.0.0.1:55432/opsradar",
        description="SQLAlchemy URL of the opportunity database the sink agents write",
    )
    prometheus_url: str = Field(
        "http://127.0.0.1:19090", description="Prometheus HTTP API (tests, demo)"
    )
    app_id: str = Field("opsradar", description="Faust app id: the consumer group and table prefix")
    web_port: int = Field(
        16066, description="port of the worker's web server, which serves /metrics"
    )
    web_host: str = Field("127.0.0.1", description="interface the worker's web server binds")
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    data_dir: Path = Field(
        Path(".stack/worker"), description="worker data directory (RocksDB tables)"
    )
    topic_partitions: int = Field(4, description="partitions of the input and changelog topics")
    topic_suffix: str = Field("", description="appended to every topic name (isolates tests)")
    lateness_seconds: int = Field(
        7200, description="how far behind a scope's watermark an event may arrive"
    )
    # Connecting a trust replays its open waiting list, whose RTT clocks started up to two years
    # ago (104-week waits were still reported in 2022), so the live limit must reach that far.
    past_horizon_days: int = Field(
        1100,
        description="live feeds: events older than this many days are rejected; 0 turns the limit "
        "off (replays of history). analyse and validate never apply it",
    )
    catalogue_file: Path | None = Field(
        None, description="per-scope overrides of catalogue defaults"
    )
    log_level: str = Field("info", description="worker log level")
    commit_interval_seconds: float = Field(
        1.0,
        description="how often the worker commits input offsets (after flushing its outputs "
        "and state); a crash replays at most this much",
    )
    standby_replicas: int = Field(
        0,
        description="standby copies of each table partition kept warm on other workers, so a "
        "failover restores from a near-current copy instead of the whole changelog",
    )
    sink_retry_max_seconds: float = Field(
        30.0,
        description="longest wait between two attempts to write a failed batch to the database "
        "(the sink retries for ever, with exponential backoff from 0.5 s)",
    )
    lag_refresh_seconds: float = Field(
        15.0,
        description="how often the event-time lag and sink backlog gauges are recomputed "
        "(so silence shows as a growing lag)",
    )

    def topic(self, name: str) -> str:
        """A topic's name on the wire for this deployment."""
        return f"{name}{self.topic_suffix}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
