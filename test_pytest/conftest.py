import asyncio
import shutil
import subprocess
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption('--uvloop', action='store_true',
                     help='run every test on the uvloop event loop')


def pytest_report_header(config):
    return f"event loop: {_loop_name(config)}"


def pytest_asyncio_loop_factories(config, item):
    return {_loop_name(config): _loop_factory(config)}


@pytest.fixture
def loop_factory(request):
    """Event loop factory of this run (for tests that run their own loop)"""
    return _loop_factory(request.config)


def _loop_name(config):
    return 'uvloop' if config.getoption('--uvloop') else 'asyncio'


def _loop_factory(config):
    if not config.getoption('--uvloop'):
        return asyncio.new_event_loop

    if sys.platform == 'win32':
        raise pytest.UsageError('uvloop is not available on Windows')

    import uvloop
    return uvloop.new_event_loop


@pytest.fixture(scope='session')
def tls_files(tmp_path_factory):
    """(certificate path, key path): a throwaway self-signed certificate
    for localhost / 127.0.0.1 (skips where the openssl command is
    missing)"""
    openssl = shutil.which('openssl')
    if openssl is None:
        pytest.skip('openssl CLI not found: cannot create a test certificate')

    path = tmp_path_factory.mktemp('tls')
    cert, key = path / 'cert.pem', path / 'key.pem'
    subprocess.run(
        [openssl, 'req', '-x509', '-newkey', 'ec',
         '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
         '-keyout', str(key), '-out', str(cert), '-days', '2',
         '-subj', '/CN=localhost',
         '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        check=True, capture_output=True, timeout=30)
    return cert, key
