"""Sphinx configuration of the hat-drivers documentation

Build with ``doit docs`` (Sphinx pages into build/docs, pdoc API reference
into build/docs/pyhat) or directly::

    python -m sphinx -W -b html src_doc build/docs

Single backquotes (the default role, `api`) link to the pdoc API reference
in ``pyhat/``: ```Connection.write``` on the tcp page links to
``pyhat/hat/drivers/tcp.html#Connection.write``. A name is looked up as a
module of ``src_py`` (``hat.drivers.tpkt``), then relative to
``hat.drivers`` (``tcp.Connection``), then as a member of the page's own
module (``hat.drivers.<page name>``); the rest of the name is the anchor.
Builtin exceptions (```ConnectionError```) link to the Python
documentation. A name that resolves to no module is a build error, and
``doit docs`` fails if an anchor is missing from the generated pages.

"""

from pathlib import Path
import builtins
import datetime
import re

from docutils import nodes


root_dir = Path(__file__).resolve().parent.parent
src_py_dir = root_dir / 'src_py'

PYTHON_DOCS = 'https://docs.python.org/3/library/exceptions.html'


def _version():
    text = (root_dir / 'pyproject.toml').read_text(encoding='utf-8')
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else 'unknown'


project = 'hat-drivers'
author = 'Hat Open developers'
copyright = f'{datetime.date.today().year}, {author}'
version = release = _version()

extensions = []
default_role = 'api'

root_doc = 'index'
exclude_patterns = []
templates_path = []

html_theme = 'alabaster'
html_static_path = []
html_title = f'{project} {version}'
html_show_sourcelink = False


def _is_module(name):
    path = src_py_dir.joinpath(*name.split('.'))
    return (path.with_suffix('.py').is_file() or
            (path / '__init__.py').is_file())


def _resolve(name, page_module):
    """Module and anchor (possibly empty) of the API name `name`"""
    parts = name.split('.')
    for prefix in ('', 'hat.drivers.', f'{page_module}.'):
        for i in range(len(parts), 0, -1):
            module = prefix + '.'.join(parts[:i])
            if _is_module(module):
                return module, '.'.join(parts[i:])

    if _is_module(page_module):
        return page_module, name

    return None


def _api_role(role, rawtext, text, lineno, inliner, options=None,
              content=None):
    """Link to the pdoc API reference (see the module docstring)"""
    env = inliner.document.settings.env
    name = text.strip()
    code = nodes.literal(rawtext, name, classes=['xref', 'api'])

    exc = getattr(builtins, name, None)
    if isinstance(exc, type) and issubclass(exc, BaseException):
        return [nodes.reference(rawtext, '', code,
                                refuri=f'{PYTHON_DOCS}#{name}')], []

    page_module = 'hat.drivers.' + env.docname.replace('/', '.')
    resolved = _resolve(name, page_module)
    if resolved is None:
        msg = inliner.reporter.error(
            f'`{name}`: no module of src_py documents it (write the full '
            f'name, e.g. `hat.drivers.tcp.Connection`, or use ``{name}`` '
            f'for plain code)', line=lineno)
        return [code], [msg]

    module, anchor = resolved
    up = '../' * env.docname.count('/')
    uri = f"{up}pyhat/{module.replace('.', '/')}.html"
    if anchor:
        uri += f'#{anchor}'
    return [nodes.reference(rawtext, '', code, refuri=uri)], []


def setup(app):
    app.add_role('api', _api_role)
    return {'parallel_read_safe': True}
