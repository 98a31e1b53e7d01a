"""HTTPS to the backend. A certificate this machine does not trust gives an error that says what
to do, at once (a second try cannot pass); the fix it names (SSL_CERT_FILE) works. The emulator
serves HTTPS with a certificate signed by a certificate authority made for the test."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from backend_support import Sleeps, make_client
from nemo_video_mcp.backend import TransportError
from nemo_video_mcp.emulator import Emulator
from support_common import connect, settings_for, text_of
from tools_support import MODES

pytestmark = pytest.mark.anyio


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None
) -> x509.Certificate:
    """A certificate authority (`issuer` None: self-signed) or a server certificate for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = issuer if issuer else (subject, key)
    ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key())
    builder = builder.add_extension(authority, critical=False)
    if not ca:
        loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        server_auth = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        builder = builder.add_extension(loopback, critical=False).add_extension(server_auth, critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`ca` (what a client must trust), and the server's `cert` and `key`, as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server-key.pem"}
    paths["ca"].write_bytes(_cert("nemo test CA", ca_key, None).public_bytes(serialization.Encoding.PEM))
    server = _cert("127.0.0.1", key, ("nemo test CA", ca_key))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def https_emulator(certs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with Emulator(tls=(str(certs["cert"]), str(certs["key"]))) as emu:
        yield emu


async def test_an_untrusted_certificate_is_named_with_its_fix_and_not_retried(
    https_emulator: Emulator, tmp_path: Path
) -> None:
    assert https_emulator.url.startswith("https://127.0.0.1:")
    sleeps = Sleeps()
    async with make_client(https_emulator.url, tmp_path / "s", sleep=sleeps) as client:
        with pytest.raises(TransportError) as exc:
            await client.get_credits(skill="video-json-ai")
    text = str(exc.value)
    assert "does not trust the server's TLS certificate" in text
    assert "SSL_CERT_FILE" in text
    assert "127.0.0.1" not in text  # no URL in an error text
    assert sleeps.waits == []  # no backoff: the same handshake would fail again
    assert https_emulator.requests == []  # nothing was sent


async def test_trusting_the_authority_through_ssl_cert_file_works(
    https_emulator: Emulator, certs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))
    async with make_client(https_emulator.url, tmp_path / "s") as client:
        credits = await client.get_credits(skill="video-json-ai")
    assert credits.available > 0
    assert https_emulator.requests_to("/api/credits/")


@pytest.mark.parametrize("mode", MODES)
async def test_the_assistant_is_told_the_fix(https_emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(https_emulator, tmp_path), mode) as client:
        result = await client.call_tool("check_credits", {})
    assert result.is_error
    text = text_of(result)
    assert "does not trust the server's TLS certificate" in text
    assert "SSL_CERT_FILE" in text
