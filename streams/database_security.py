"""TLS to Postgres from the settings: the driver's connect arguments for the configured mode.

``OPSRADAR_DATABASE_SSLMODE`` takes libpq's values. asyncpg (the workers, ``analyse``) gets an
``ssl`` argument, an ``SSLContext`` built from the root and client certificates; psycopg (the
migrations) gets libpq's own parameters. Unset, nothing is added and the URL's own query
options (``?ssl=require`` for asyncpg, ``?sslmode=require`` for psycopg) still apply.
"""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy.engine import URL, make_url

from streams.settings import Settings


def asyncpg_ssl(settings: Settings) -> ssl.SSLContext | str | bool | None:
    """asyncpg's ``ssl`` argument for ``database_sslmode`` (None: leave the driver's default)."""
    mode = settings.database_sslmode
    if mode is None:
        return None
    if mode == "disable":
        return False
    if mode in ("allow", "prefer"):
        return mode  # asyncpg's own fallback logic; certificates are not checked in these modes
    root = settings.database_ssl_root_cert
    context = ssl.create_default_context(cafile=str(root) if root is not None else None)
    # libpq: "require" checks nothing, unless a root certificate is given (then as verify-ca)
    context.check_hostname = mode == "verify-full"
    if mode == "require" and root is None:
        context.verify_mode = ssl.CERT_NONE
    if settings.database_ssl_cert is not None:
        key = settings.database_ssl_key
        context.load_cert_chain(settings.database_ssl_cert, key)
    return context


def _libpq_parameters(settings: Settings) -> dict[str, Any]:
    if settings.database_sslmode is None:
        return {}
    parameters: dict[str, Any] = {"sslmode": settings.database_sslmode}
    for name, path in (
        ("sslrootcert", settings.database_ssl_root_cert),
        ("sslcert", settings.database_ssl_cert),
        ("sslkey", settings.database_ssl_key),
    ):
        if path is not None:
            parameters[name] = str(path)
    return parameters


def database_connect_args(settings: Settings, url: str | URL | None = None) -> dict[str, Any]:
    """``connect_args`` for a SQLAlchemy engine on ``url`` (default: the settings' URL)."""
    parsed = make_url(url if url is not None else settings.database_url)
    if parsed.get_backend_name() != "postgresql":
        return {}
    if parsed.get_driver_name() == "asyncpg":
        ssl_argument = asyncpg_ssl(settings)
        return {} if ssl_argument is None else {"ssl": ssl_argument}
    return _libpq_parameters(settings)  # psycopg (sync or async): libpq's own parameters
