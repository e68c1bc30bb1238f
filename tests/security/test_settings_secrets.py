"""Secret settings without a broker: files read at every call, never shown, TLS verification on."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.config import SecretFileError, Settings, describe

SASL = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "u"}


def test_password_file_is_read_at_every_call_and_never_shown(tmp_path: Path) -> None:
    pw = tmp_path / "password"
    pw.write_text("first-secret\n")
    s = Settings(**SASL, kafka_sasl_password_file=str(pw))
    assert s.kafka_kwargs()["sasl_plain_password"] == "first-secret"  # final newline dropped
    pw.write_text("second-secret")
    assert s.kafka_kwargs()["sasl_plain_password"] == "second-secret"
    assert "secret" not in repr(s) + describe()


def test_unreadable_or_empty_file_names_the_variable_not_the_content(tmp_path: Path) -> None:
    s = Settings(**SASL, kafka_sasl_password_file=str(tmp_path / "missing"))
    with pytest.raises(SecretFileError, match=r"PA_KAFKA_SASL_PASSWORD_FILE: cannot use .*missing"):
        s.kafka_kwargs()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretFileError, match="is empty"):
        Settings(**SASL, kafka_sasl_password_file=str(tmp_path / "empty")).kafka_kwargs()
    (tmp_path / "bad.pem").write_text("not a certificate")
    bad_ca = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "bad.pem"))
    with pytest.raises(SecretFileError, match="PA_KAFKA_SSL_CAFILE") as err:
        bad_ca.kafka_kwargs()
    assert "not a certificate" not in str(err.value)


def test_password_and_password_file_together_are_refused_without_echoing_either(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(**SASL, kafka_sasl_password="plain-secret", kafka_sasl_password_file=str(tmp_path / "p"))
    assert "not both" in str(err.value) and "plain-secret" not in str(err.value)
    with pytest.raises(ValidationError, match="PA_KAFKA_SASL_PASSWORD_FILE"):
        Settings(**SASL)


def test_tls_verifies_the_certificate_and_the_host_name() -> None:
    ctx = Settings(kafka_security_protocol="SSL").kafka_kwargs()["ssl_context"]
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
