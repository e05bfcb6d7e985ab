"""Sphinx configuration of the hat-drivers documentation

Build with ``doit docs`` (Sphinx pages into build/docs, pdoc API reference
into build/docs/pyhat) or directly::

    python -m sphinx -W -b html src_doc build/docs

"""

from pathlib import Path
import datetime
import re


root_dir = Path(__file__).resolve().parent.parent


def _version():
    text = (root_dir / 'pyproject.toml').read_text(encoding='utf-8')
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else 'unknown'


project = 'hat-drivers'
author = 'Hat Open developers'
copyright = f'{datetime.date.today().year}, {author}'
version = release = _version()

extensions = []

root_doc = 'index'
exclude_patterns = []
templates_path = []

html_theme = 'alabaster'
html_static_path = []
html_title = f'{project} {version}'
html_show_sourcelink = False
