"""The one settings object: the only place opsradar reads the environment (prefix ``OPSRADAR_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
#: libpq's sslmode values, with libpq's meaning (``require`` verifies the CA when a root
#: certificate is given, as libpq does).
DatabaseSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class Settings(BaseSettings):
    """Defaults point at the local stack that ``make up`` starts on 127.0.0.1."""

    model_config = SettingsConfigDict(env_prefix="OPSRADAR_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers, host:port[,...]"
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT",
        description="how clients talk to Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA certificate(s) that signed the brokers' certificates (PEM)"
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="client certificate for mutual TLS (PEM)"
    )
    kafka_ssl_keyfile: Path | None = Field(None, description="client certificate's key (PEM)")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="password of an encrypted client key"
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="check that a broker's certificate names the host connected to"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        "PLAIN", description="SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    database_url: str = Field(
        "postgresql+asyncpg://opsradar:opsradar@127.0.0.1:55432/opsradar",
        description="SQLAlchemy URL of the opportunity database the sink agents write",
    )
    database_sslmode: DatabaseSslMode | None = Field(
        None,
        description="TLS to Postgres (libpq sslmode values); unset: the driver's default or the "
        "URL's own options",
    )
    database_ssl_root_cert: Path | None = Field(
        None, description="CA certificate(s) that signed the Postgres server's certificate (PEM)"
    )
    database_ssl_cert: Path | None = Field(
        None, description="client certificate for Postgres (PEM)"
    )
    database_ssl_key: Path | None = Field(None, description="client certificate's key (PEM)")
    prometheus_url: str = Field(
        "http://127.0.0.1:19090", description="Prometheus HTTP API (tests, demo)"
    )
    app_id: str = Field("opsradar", description="Faust app id: the consumer group and table prefix")
    web_port: int = Field(
        16066, description="port of the worker's web server, which serves /metrics"
    )
    web_host: str = Field("127.0.0.1", description="interface the worker's web server binds")
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    stream_buffer_records: int = Field(
        4096,
        description="records Faust fetches ahead of each agent; a catch-up's records can be "
        "~1 MB each, so this bounds the worker's memory",
        ge=1,
    )
    rocksdb_write_buffer_mb: int = Field(
        16, description="RocksDB memtable size per table partition (two are kept)", ge=1
    )
    rocksdb_block_cache_mb: int = Field(
        32, description="RocksDB block cache per table partition", ge=1
    )
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
    session_timeout_seconds: float = Field(
        60.0,
        description="how long the group waits for a worker that stopped heartbeating (a crash) "
        "before its partitions move to the others",
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

    def __repr_args__(self) -> Any:
        # SecretStr fields print as '**********' already; the database URL may carry a password.
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                try:
                    value = make_url(value).render_as_string(hide_password=True)
                except ArgumentError:
                    value = "<not a database URL>"
            yield name, value

    def topic(self, name: str) -> str:
        """A topic's name on the wire for this deployment."""
        return f"{name}{self.topic_suffix}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
