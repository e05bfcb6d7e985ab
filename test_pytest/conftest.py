import asyncio
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
