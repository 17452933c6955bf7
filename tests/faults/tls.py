"""Certificates made on the fly for HTTPS fault sites: a test CA, certificates it signs, and
self-signed ones. A child crawl trusts the CA through SSL_CERT_FILE, as OpenSSL does."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
        cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file

    def server_context(self, directory: Path, name: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.write(directory, name))
        return context


def _certificate(
    subject: str, names: list[str], key: ec.EllipticCurvePrivateKey, issuer: KeyPair | None
) -> x509.Certificate:
    now = datetime.now(UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.cert.subject if issuer else subject_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if issuer is None and not names:  # a CA
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def make_ca() -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_certificate("newsmon test CA", [], key, None), key)


def issued_by(ca: KeyPair, names: list[str]) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_certificate(names[0], names, key, ca), key)


def self_signed(names: list[str]) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_certificate(names[0], names, key, None), key)
