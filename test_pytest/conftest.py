import asyncio
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption('--uvloop', action='store_true',
                     help='run every test on the uvloop event loop')


def pytest_report_header(config):
    return f"event loop: {'uvloop' if config.getoption('--uvloop') else 'asyncio'}"


@pytest.fixture(scope='session')
def event_loop_policy(request):
    if request.config.getoption('--uvloop'):
        if sys.platform == 'win32':
            pytest.skip('uvloop is not available on Windows')
        import uvloop
        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()
