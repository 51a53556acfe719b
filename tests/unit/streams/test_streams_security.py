"""Kafka and Postgres security options from the settings, and secrets that never print."""

from __future__ import annotations

import ssl

import pytest
from faust.auth import SASLCredentials, SSLCredentials

from streams.database_security import asyncpg_ssl, database_connect_args
from streams.kafka_security import aiokafka_options, faust_broker_options, faust_credentials
from streams.settings import Settings

pytestmark = pytest.mark.unit

SASL_PASSWORD = "sasl-pw-7c1e9b"
DB_PASSWORD = "db-pw-42f0aa"


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    plain = settings()
    assert aiokafka_options(plain) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(plain) is None
    assert faust_broker_options(settings(kafka_bootstrap="a:1,b:2")) == {
        "broker": ["kafka://a:1", "kafka://b:2"],
        "broker_credentials": None,
    }


def test_ssl_gives_a_verifying_context() -> None:
    tls = settings(kafka_security_protocol="SSL")
    options = aiokafka_options(tls)
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "sasl_mechanism" not in options
    credentials = faust_credentials(tls)
    assert isinstance(credentials, SSLCredentials)
    unchecked = aiokafka_options(
        settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    )
    assert unchecked["ssl_context"].check_hostname is False


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_sasl_passes_the_secret_to_the_client_only(protocol: str) -> None:
    sasl = settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="opsradar",
        kafka_sasl_password=SASL_PASSWORD,
    )
    options = aiokafka_options(sasl)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "opsradar",
        SASL_PASSWORD,
    )
    assert ("ssl_context" in options) == (protocol == "SASL_SSL")
    credentials = faust_credentials(sasl)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == protocol
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert SASL_PASSWORD not in repr(credentials)


def test_settings_never_print_a_secret() -> None:
    secret = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_password=SASL_PASSWORD,
        kafka_ssl_key_password=SASL_PASSWORD,
        database_url=f"postgresql+asyncpg://opsradar:{DB_PASSWORD}@db.example:5432/opsradar",
    )
    for text in (repr(secret), str(secret), f"{secret!r}"):
        assert SASL_PASSWORD not in text and DB_PASSWORD not in text
        assert "db.example" in text  # the rest of the URL is still shown
    assert secret.database_url.endswith("@db.example:5432/opsradar")  # the value is intact
    assert "<not a database URL>" in repr(settings(database_url="::nonsense"))


def test_the_environment_sets_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSRADAR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("OPSRADAR_KAFKA_SASL_PASSWORD", SASL_PASSWORD)
    monkeypatch.setenv("OPSRADAR_DATABASE_SSLMODE", "verify-full")
    from_env = Settings()
    assert from_env.kafka_sasl_password is not None
    assert from_env.kafka_sasl_password.get_secret_value() == SASL_PASSWORD
    assert from_env.database_sslmode == "verify-full"
    with pytest.raises(ValueError):
        Settings(kafka_security_protocol="TLS")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "verify", "hostname"),
    [
        ("require", ssl.CERT_NONE, False),
        ("verify-ca", ssl.CERT_REQUIRED, False),
        ("verify-full", ssl.CERT_REQUIRED, True),
    ],
)
def test_asyncpg_context_follows_libpq_modes(
    mode: str, verify: ssl.VerifyMode, hostname: bool
) -> None:
    context = asyncpg_ssl(settings(database_sslmode=mode))
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (verify, hostname)


def test_database_connect_args_by_driver() -> None:
    unset = settings()
    assert database_connect_args(unset) == {}
    assert database_connect_args(settings(database_sslmode="disable")) == {"ssl": False}
    assert database_connect_args(settings(database_sslmode="prefer")) == {"ssl": "prefer"}
    full = settings(database_sslmode="verify-full", database_ssl_root_cert="/etc/ca.crt")
    assert database_connect_args(full, "postgresql+psycopg://h/db") == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.crt",
    }
    assert database_connect_args(full, "sqlite+aiosqlite:///x.db") == {}
