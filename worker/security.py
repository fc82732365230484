"""Settings → Kafka client security options: the one place that maps them, for Faust and plain aiokafka.

Secrets are unwrapped here and nowhere else; nothing in this module logs, and the only text it builds for
humans (:func:`describe_connection`, error messages) names files and users, never passwords.

>>> from worker.settings import Settings
>>> options = aiokafka_options(Settings(brokers="kafka:9092"))
>>> options["security_protocol"], options["bootstrap_servers"]
('PLAINTEXT', ['kafka:9092'])
"""

from __future__ import annotations

import ssl
from typing import Any

from pydantic import SecretStr

from worker.settings import Settings


class SecurityConfigError(ValueError):
    """The security settings cannot work together (e.g. SASL without a user). Raised before any connection."""


def _uses_tls(settings: Settings) -> bool:
    return settings.security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def check(settings: Settings) -> None:
    """Raise :class:`SecurityConfigError` for combinations that would only fail later, inside the client.

    >>> try:
    ...     check(Settings(security_protocol="SASL_SSL", sasl_username="svc"))
    ... except SecurityConfigError as error:
    ...     print(error)
    NEWSWORKER_SECURITY_PROTOCOL=SASL_SSL needs NEWSWORKER_SASL_PASSWORD
    """
    protocol = settings.security_protocol
    if _uses_sasl(settings):
        for name, value in (("SASL_USERNAME", settings.sasl_username), ("SASL_PASSWORD", settings.sasl_password)):
            if not value or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise SecurityConfigError(f"NEWSWORKER_SECURITY_PROTOCOL={protocol} needs NEWSWORKER_{name}")
    tls_files = {"SSL_CAFILE": settings.ssl_cafile, "SSL_CERTFILE": settings.ssl_certfile,
                 "SSL_KEYFILE": settings.ssl_keyfile}
    if not _uses_tls(settings):
        # A CA or client certificate set with a plaintext protocol means the operator expects TLS and would not get it.
        given = [f"NEWSWORKER_{name}" for name, value in tls_files.items() if value]
        if given:
            raise SecurityConfigError(
                f"{', '.join(given)} set but NEWSWORKER_SECURITY_PROTOCOL={protocol} does not use TLS "
                "(use SSL or SASL_SSL)"
            )
        return
    if settings.ssl_keyfile and not settings.ssl_certfile:
        raise SecurityConfigError("NEWSWORKER_SSL_KEYFILE needs NEWSWORKER_SSL_CERTFILE (the client certificate)")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL, verifying brokers against ``ssl_cafile`` (or the system CAs).

    With ``ssl_cafile`` set only that CA is trusted, so a broker certificate from any other CA is refused.
    """
    check(settings)
    if not _uses_tls(settings):
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_cafile)
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile:
        context.load_cert_chain(
            settings.ssl_certfile, settings.ssl_keyfile, password=_reveal(settings.ssl_key_password)
        )
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaConsumer`` / the admin client.

    The result holds the SASL password in clear (aiokafka needs it so): pass it on, never log it.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if _uses_sasl(settings):
        # aiokafka takes the user and password of every mechanism, SCRAM too, under the sasl_plain_* names.
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = _reveal(settings.sasl_password)
    return options


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for the Faust app (None for PLAINTEXT).

    Faust turns these back into the same aiokafka options as :func:`aiokafka_options` (tested), so the worker
    and the command-line tools reach the cluster the same way.
    """
    from faust.auth import SASLCredentials, SSLCredentials

    context = ssl_context(settings)
    if _uses_sasl(settings):
        # Faust picks SASL_SSL over SASL_PLAINTEXT from whether a context is given.
        return SASLCredentials(
            username=settings.sasl_username,
            password=_reveal(settings.sasl_password),
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def describe_connection(settings: Settings) -> str:
    """A one-line, secret-free summary of how the worker reaches Kafka, for the start-up log.

    >>> describe_connection(Settings(brokers="k1:9093", security_protocol="SASL_SSL",
    ...                              sasl_mechanism="SCRAM-SHA-512", sasl_username="svc", sasl_password="pw"))
    'k1:9093 over SASL_SSL (SCRAM-SHA-512 as svc, CA: system)'
    """
    details = []
    if _uses_sasl(settings):
        details.append(f"{settings.sasl_mechanism} as {settings.sasl_username}")
    if _uses_tls(settings):
        details.append(f"CA: {settings.ssl_cafile or 'system'}")
        if settings.ssl_certfile:
            details.append(f"client certificate: {settings.ssl_certfile}")
        if not settings.ssl_check_hostname:
            details.append("host name not checked")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"{settings.brokers} over {settings.security_protocol}{suffix}"
