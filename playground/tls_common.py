"""Throwaway certificates for the playground TLS pair (tls_server.py,
tls_client.py): self-signed, for ``localhost`` / ``127.0.0.1``."""

from pathlib import Path
import datetime
import ipaddress
import shutil
import ssl
import subprocess

import cli


def file_error(option: str, path: Path | str, e: OSError) -> cli.Error:
    """`cli.Error` naming the file `path` of `option` that could not be
    loaded (`e`: the error of loading it)"""
    if isinstance(e, ssl.SSLError):
        text = e.reason or str(e)
        text = f'not a valid PEM file ({text})'
    else:
        text = e.strerror or str(e)
    return cli.Error(f'{option} {path}: {text}')


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Create a throwaway self-signed certificate and key in `directory`.

    The certificate is valid for one day for DNS:localhost and IP:127.0.0.1.
    Uses the ``openssl`` command line tool; falls back to the
    ``cryptography`` package when it is importable.

    Returns:
        (certificate path, key path), both PEM

    """
    directory = Path(directory)
    cert, key = directory / 'cert.pem', directory / 'key.pem'
    openssl = shutil.which('openssl')
    if openssl:
        subprocess.run(
            [openssl, 'req', '-x509', '-newkey', 'ec',
             '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
             '-keyout', str(key), '-out', str(cert), '-days', '1',
             '-subj', '/CN=localhost',
             '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
            check=True, capture_output=True, timeout=60)
        return cert, key

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise cli.Error('cannot create a certificate: neither the openssl '
                           'command nor the cryptography package is '
                           'available') from None

    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName('localhost'),
            x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
            critical=False)
        .sign(private_key, hashes.SHA256()))
    key.write_bytes(private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key
