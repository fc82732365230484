"""Settings → Kafka client security mapping (worker/security.py), and secrets staying secret.

SASL cannot be exercised against the embedded broker (it refuses every user with memory storage), so SASL is
proved here at the client-configuration level: the options we build are the ones aiokafka and Faust accept,
and Faust's own translation of our credentials gives back the same options.
"""

from __future__ import annotations

import io
import logging
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from worker import codec
from worker.deadletter import dead_letter
from worker.logs import configure
from worker.records import Envelope, Origin, RejectCode, Rejection
from worker.security import (
    SecurityConfigError,
    aiokafka_options,
    describe_connection,
    faust_credentials,
    ssl_context,
)
from worker.settings import Settings

SASL_PASSWORD = "sasl-pass-7f3e9c"
KEY_PASSWORD = "key-pass-51b2d0"
SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One self-signed certificate (serves as CA and as client certificate) and its password-protected key."""
    folder = tmp_path_factory.mktemp("pki")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsworker unit test")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return {"cert": cert_path, "key": key_path}


def sasl_settings(protocol: str, mechanism: str, **extra: object) -> Settings:
    return Settings(
        brokers="kafka-0:9093,kafka-1:9093",
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="svc-news",
        sasl_password=SASL_PASSWORD,
        **extra,
    )


# --- PLAINTEXT and SSL ------------------------------------------------------------------------------------


def test_plaintext_sets_no_tls_and_no_sasl():
    settings = Settings(brokers="kafka://a:9092, b:9092")
    assert aiokafka_options(settings) == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}
    assert ssl_context(settings) is None
    assert faust_credentials(settings) is None


def test_ssl_trusts_only_the_configured_ca(self_signed):
    settings = Settings(security_protocol="SSL", ssl_cafile=str(self_signed["cert"]))
    context = aiokafka_options(settings)["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    trusted = [dict(entry[0] for entry in ca["subject"]) for ca in context.get_ca_certs()]
    # Only our CA, not the system bundle: a broker certificate from any other CA must fail verification.
    assert trusted == [{"commonName": "newsworker unit test"}]


def test_ssl_without_cafile_falls_back_to_system_cas():
    context = ssl_context(Settings(security_protocol="SSL"))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED


def test_ssl_hostname_check_can_be_turned_off_but_verification_stays(self_signed):
    settings = Settings(security_protocol="SSL", ssl_cafile=str(self_signed["cert"]), ssl_check_hostname=False)
    context = ssl_context(settings)
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_mutual_tls_loads_the_encrypted_client_key_with_its_password(self_signed):
    good = Settings(
        security_protocol="SSL",
        ssl_cafile=str(self_signed["cert"]),
        ssl_certfile=str(self_signed["cert"]),
        ssl_keyfile=str(self_signed["key"]),
        ssl_key_password=KEY_PASSWORD,
    )
    assert isinstance(ssl_context(good), ssl.SSLContext)
    wrong_password = good.model_copy(update={"ssl_key_password": SecretStr("not-the-password")})
    with pytest.raises(ssl.SSLError):
        ssl_context(wrong_password)


def test_ssl_credentials_for_faust_give_back_the_same_client_options(self_signed):
    settings = Settings(security_protocol="SSL", ssl_cafile=str(self_signed["cert"]))
    through_faust = credentials_to_aiokafka_auth(faust_credentials(settings))
    ours = aiokafka_options(settings)
    assert through_faust["security_protocol"] == ours["security_protocol"] == "SSL"
    assert isinstance(through_faust["ssl_context"], ssl.SSLContext)


# --- SASL -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", SASL_MECHANISMS)
def test_sasl_plaintext_options(mechanism):
    options = aiokafka_options(sasl_settings("SASL_PLAINTEXT", mechanism))
    assert options == {
        "bootstrap_servers": ["kafka-0:9093", "kafka-1:9093"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "svc-news",
        "sasl_plain_password": SASL_PASSWORD,
    }


@pytest.mark.parametrize("mechanism", SASL_MECHANISMS)
def test_sasl_ssl_adds_a_verifying_tls_context(mechanism, self_signed):
    options = aiokafka_options(sasl_settings("SASL_SSL", mechanism, ssl_cafile=str(self_signed["cert"])))
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", SASL_MECHANISMS)
def test_faust_credentials_translate_to_the_same_options(protocol, mechanism):
    settings = sasl_settings(protocol, mechanism)
    ours = aiokafka_options(settings)
    through_faust = credentials_to_aiokafka_auth(faust_credentials(settings))
    for option in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert through_faust[option] == ours[option], option
    assert (through_faust["ssl_context"] is None) == (protocol == "SASL_PLAINTEXT")


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", SASL_MECHANISMS)
async def test_aiokafka_accepts_the_options(protocol, mechanism):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    # The clients validate protocol, mechanism and credentials in their constructors; no connection is made.
    options = aiokafka_options(sasl_settings(protocol, mechanism))
    producer = AIOKafkaProducer(**options)
    consumer = AIOKafkaConsumer("news.raw", group_id="g", **options)
    assert producer.client._sasl_mechanism == consumer._client._sasl_mechanism == mechanism
    assert producer.client._security_protocol == protocol


# --- settings that cannot work are refused up front ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_username": "svc"}, "NEWSWORKER_SASL_PASSWORD"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_password": "x"}, "NEWSWORKER_SASL_USERNAME"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "svc", "sasl_password": ""}, "SASL_PASSWORD"),
        ({"security_protocol": "SSL", "ssl_keyfile": "/k.pem"}, "NEWSWORKER_SSL_CERTFILE"),
        ({"security_protocol": "PLAINTEXT", "ssl_cafile": "/ca.pem"}, "does not use TLS"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "svc", "sasl_password": "x",
          "ssl_cafile": "/ca.pem"}, "does not use TLS"),
    ],
)
def test_inconsistent_settings_are_refused_before_connecting(fields, message):
    settings = Settings(**fields)
    with pytest.raises(SecurityConfigError, match=message):
        aiokafka_options(settings)
    with pytest.raises(SecurityConfigError, match=message):
        faust_credentials(settings)


def test_a_missing_ca_file_fails_at_start_not_at_first_connection(tmp_path):
    with pytest.raises(FileNotFoundError):
        ssl_context(Settings(security_protocol="SSL", ssl_cafile=str(tmp_path / "absent.pem")))


# --- secrets never leak ----------------------------------------------------------------------------------


def test_secrets_read_from_the_environment_are_masked(monkeypatch):
    monkeypatch.setenv("NEWSWORKER_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSWORKER_SASL_USERNAME", "svc-news")
    monkeypatch.setenv("NEWSWORKER_SASL_PASSWORD", SASL_PASSWORD)
    monkeypatch.setenv("NEWSWORKER_SSL_KEY_PASSWORD", KEY_PASSWORD)
    settings = Settings()
    assert settings.sasl_password.get_secret_value() == SASL_PASSWORD
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump()),
                 describe_connection(settings), repr(faust_credentials(settings))):
        assert SASL_PASSWORD not in text
        assert KEY_PASSWORD not in text
    assert "svc-news" in describe_connection(settings)


@pytest.mark.parametrize("json_lines", [False, True])
def test_logging_the_settings_does_not_reveal_secrets(json_lines, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure("DEBUG", json_lines=json_lines)
        settings = sasl_settings("SASL_SSL", "SCRAM-SHA-512", ssl_key_password=KEY_PASSWORD)
        log = logging.getLogger("newsworker.test")
        log.info("starting with %s", settings)
        log.info("settings %r", settings)
        log.info("connecting to %s", describe_connection(settings))
        log.info("credentials %r", faust_credentials(settings))
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    output = stream.getvalue()
    assert "svc-news" in output  # the lines were written
    assert SASL_PASSWORD not in output
    assert KEY_PASSWORD not in output


def test_a_dead_letter_carries_no_credentials():
    settings = sasl_settings("SASL_SSL", "PLAIN")
    envelope = Envelope(value=b"\xff not json", origin=Origin(topic=settings.topic_raw, partition=0, offset=7))
    message = dead_letter(envelope, Rejection(RejectCode.INVALID_JSON, "bad"), datetime.now(timezone.utc),
                          settings.app_id)
    encoded = codec.dumps(message)
    assert SASL_PASSWORD.encode() not in encoded
    assert b"svc-news" not in encoded
