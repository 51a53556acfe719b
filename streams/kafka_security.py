"""How opsradar's Kafka clients authenticate and encrypt: one translation of the settings.

Every client (the Faust app, the producer, the topic admin, the lag reader) takes its security
options from here, so that a deployment switches PLAINTEXT to SSL or SASL_SSL in one place
(``OPSRADAR_KAFKA_SECURITY_PROTOCOL`` and friends). Secrets stay ``SecretStr`` in the settings
and are unwrapped only into the client options, which nothing logs.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faust.auth import Credentials, SASLCredentials, SSLCredentials

from streams.settings import Settings


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None for the plaintext protocols)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    password = settings.kafka_ssl_key_password
    context = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=password.get_secret_value() if password is not None else None,
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def _sasl_password(settings: Settings) -> str | None:
    secret = settings.kafka_sasl_password
    return secret.get_secret_value() if secret is not None else None


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": _sasl_password(settings),
        }
    return options


def faust_credentials(settings: Settings) -> Credentials | None:
    """``broker_credentials`` for the Faust app (None: plaintext, Faust's default)."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    if protocol.startswith("SASL_"):
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=_sasl_password(settings),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,  # None keeps SASL_PLAINTEXT
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def faust_broker_options(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` arguments that say where the brokers are and how to reach them."""
    return {
        "broker": [f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        "broker_credentials": faust_credentials(settings),
    }
