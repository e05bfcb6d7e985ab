"""doit tasks of hat-drivers

Every task runs tools with the interpreter that runs doit (`sys.executable`)
and puts ``src_py`` on ``PYTHONPATH``, so nothing has to be installed
beyond the ``dev`` extra's tools.

    doit test [--uvloop] [-- PYTEST ARGS...]   pytest over test_pytest (or
                                               the test files given)
    doit check                                 ruff, mypy --strict (and a typed
                                               user's mypy --strict against
                                               an editable install in
                                               build/typed-user-venv)
    doit docs                                  Sphinx + pdoc: build/docs
    doit build                                 wheel into build/py
    doit bench [--uvloop] [-- BENCH ARGS...]   benchmarks/bench_tcp.py (args
                                               go to it), bench_iec104.py,
                                               bench_mms.py, bench_ber.py
    doit bench_iec104 [--uvloop] [-- ARGS...]  benchmarks/bench_iec104.py
    doit bench_mms [--uvloop] [-- ARGS...]     benchmarks/bench_mms.py
    doit bench_ber [-- ARGS...]                benchmarks/bench_ber.py (BER
                                               core against ASN.1 libraries)

Arguments after ``--`` are passed on unchanged (doit itself would reject
unknown options), e.g. ``doit test --uvloop -- -x -k read``.

"""

from pathlib import Path
import ast
import html.parser
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

from doit.action import CmdAction


DOIT_CONFIG = {'default_tasks': ['test'],
               'verbosity': 2}

root_dir = Path(__file__).resolve().parent
src_py_dir = root_dir / 'src_py'
src_doc_dir = root_dir / 'src_doc'
test_dir = root_dir / 'test_pytest'
playground_dir = root_dir / 'playground'
bench_dir = root_dir / 'benchmarks'
build_dir = root_dir / 'build'
build_py_dir = build_dir / 'py'
build_docs_dir = build_dir / 'docs'
build_pyhat_dir = build_docs_dir / 'pyhat'

python = sys.executable


def _env():
    env = dict(os.environ)
    paths = [str(src_py_dir)]
    if env.get('PYTHONPATH'):
        paths.append(env['PYTHONPATH'])
    env['PYTHONPATH'] = os.pathsep.join(paths)
    return env


def _cmd(args):
    return CmdAction(args, env=_env(), cwd=root_dir, shell=False)


def _uvloop_cmd(args):
    """Command `args` followed by ``--uvloop`` if the task's ``uvloop``
    option is set (positional arguments are not passed)"""
    def action(uvloop):
        return [*args, *(['--uvloop'] if uvloop else [])]

    return CmdAction(action, env=_env(), cwd=root_dir, shell=False)


def _pos_cmd(args):
    """Command `args` followed by ``--uvloop`` (if the task's ``uvloop``
    option is set) and the task's positional arguments (``pos``)"""
    def action(pos, uvloop):
        return [*args, *(['--uvloop'] if uvloop else []), *pos]

    return CmdAction(action, env=_env(), cwd=root_dir, shell=False)


_uvloop_param = {'name': 'uvloop',
                 'long': 'uvloop',
                 'type': bool,
                 'default': False,
                 'help': 'run on the uvloop event loop'}


def _test_cmd():
    """pytest over `test_dir`, or over the paths among the task's
    positional arguments if there are any (``doit test --
    test_pytest/test_mms.py`` runs that file only)"""
    def action(pos, uvloop):
        paths = [arg for arg in pos
                 if not arg.startswith('-') and
                 Path(arg.split('::')[0]).exists()]
        return [python, '-m', 'pytest', *([] if paths else [str(test_dir)]),
                *(['--uvloop'] if uvloop else []), *pos]

    return CmdAction(action, env=_env(), cwd=root_dir, shell=False)


def task_test():
    """Run pytest over test_pytest (args after -- go to pytest; test
    files or directories given there are run instead of all)"""
    return {'actions': [_test_cmd()],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def task_check():
    """Run ruff check (src_py, playground), mypy --strict on src_py
    (pyproject.toml) and mypy --strict on test_pytest/typed_user.py with
    hat-drivers installed as the README installs it (build/typed-user-venv)"""
    return {'actions': [_cmd([python, '-m', 'ruff', 'check',
                              str(src_py_dir), str(playground_dir)]),
                        _check_dependencies,
                        _cmd([python, '-m', 'mypy']),
                        _typed_user_cmd()],
            'uptodate': [False]}


def _check_dependencies():
    """Every runtime dependency of pyproject.toml is imported by src_py

    A distribution ``hat-aio`` counts as used when a module of src_py
    imports ``hat.aio`` (``import hat.aio``, ``from hat import aio`` or
    ``from hat.aio import ...``). Returns ``False`` (task failure)
    otherwise: an unused dependency is dropped, not declared.

    """
    text = (root_dir / 'pyproject.toml').read_text(encoding='utf-8')
    match = re.search(r'^dependencies\s*=\s*\[(.*?)\]', text,
                      re.MULTILINE | re.DOTALL)
    deps = re.findall(r'"([A-Za-z0-9_.-]+)', match.group(1)) if match else []

    imported = set()
    for path in src_py_dir.rglob('*.py'):
        tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f'{node.module}.{alias.name}'
                                for alias in node.names)

    unused = [dep for dep in deps
              if not any(name == dep.replace('-', '.') or
                         name.startswith(dep.replace('-', '.') + '.')
                         for name in imported)]
    print(f'runtime dependencies: {", ".join(deps)}; unused: '
          f'{", ".join(unused) or "none"}')
    if unused or not deps:
        print(f'runtime dependencies not imported by src_py: {unused}',
              file=sys.stderr)
        return False


typed_user_venv_dir = build_dir / 'typed-user-venv'


def _typed_user_cmd():
    """``mypy --strict`` on test_pytest/typed_user.py as a user's project
    runs it: hat-drivers installed the README's way (``pip install -e .``,
    into `typed_user_venv_dir`, with the mypy version of this interpreter),
    no configuration of ours (``--config-file=``), errors reported only in
    the user's file (``--follow-imports=silent``), no ``MYPYPATH`` or
    ``PYTHONPATH``: mypy has to find the package and its ``py.typed`` in
    the installation"""
    def action():
        python_bin = _typed_user_venv()
        env = {k: v for k, v in os.environ.items()
               if k not in ('PYTHONPATH', 'MYPYPATH')}
        result = subprocess.run([str(python_bin), '-m', 'mypy', '--strict',
                                 '--config-file=', '--follow-imports=silent',
                                 '--python-version', '3.10',
                                 str(test_dir / 'typed_user.py')],
                                env=env, cwd=root_dir)
        return result.returncode == 0

    return action


def _typed_user_venv():
    """Interpreter of `typed_user_venv_dir`: a virtual environment with
    hat-drivers installed editable (as the README's Quick start does) and
    mypy; (re)installed when pyproject.toml or the mypy version changed"""
    mypy_version = importlib.metadata.version('mypy')
    stamp = typed_user_venv_dir / 'installed.txt'
    key = (f'mypy=={mypy_version}\n' +
           (root_dir / 'pyproject.toml').read_text(encoding='utf-8'))
    python_bin = typed_user_venv_dir / (
        'Scripts/python.exe' if sys.platform == 'win32' else 'bin/python')
    if python_bin.exists() and stamp.exists() and \
            stamp.read_text(encoding='utf-8') == key:
        return python_bin

    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    subprocess.run([python, '-m', 'venv', '--clear',
                    str(typed_user_venv_dir)], check=True, env=env)
    subprocess.run([str(python_bin), '-m', 'pip', 'install', '-q',
                    '-e', str(root_dir), f'mypy=={mypy_version}'],
                   check=True, env=env, cwd=root_dir)
    stamp.write_text(key, encoding='utf-8')
    return python_bin


# the layers of iec104, of the OSI drivers and of mms, each documented on
# its own page: the package's __all__ (the published API) leaves them out of
# the package page's submodule list
_PDOC_LAYER_MODULES = [*(f'hat.drivers.iec104.{name}'
                         for name in ('common', 'codec', 'apdu', 'link',
                                      'apci', 'connection', 'trace')),
                       *(f'hat.drivers.{package}.{name}'
                         for package in ('cotp', 'cosp', 'copp', 'acse')
                         for name in ('common', 'codec', 'connection')),
                       *(f'hat.drivers.mms.{name}'
                         for name in ('common', 'codec', 'connection'))]


def task_docs():
    """Build Sphinx docs (build/docs) and pdoc API docs (build/docs/pyhat)"""
    return {'actions': [(_rmtree, [build_docs_dir]),
                        _cmd([python, '-m', 'sphinx', '-W', '--keep-going',
                              '-q', '-b', 'html',
                              str(src_doc_dir), str(build_docs_dir)]),
                        _cmd([python, '-m', 'pdoc', '-d', 'google',
                              '-t', str(src_doc_dir / 'pdoc'),
                              '-o', str(build_pyhat_dir),
                              'hat.drivers', *_PDOC_LAYER_MODULES]),
                        _check_docs_links,
                        _check_api_docs],
            'uptodate': [False]}


def task_build():
    """Build wheel into build/py"""
    return {'actions': [(_rmtree, [build_py_dir]),
                        _cmd([python, '-m', 'pip', 'wheel', '--no-deps',
                              '-w', str(build_py_dir), str(root_dir)])],
            'uptodate': [False]}


def task_bench():
    """Run benchmarks/bench_tcp.py (args after --), bench_iec104.py,
    bench_mms.py, bench_ber.py"""
    return {'actions': [_pos_cmd([python, str(bench_dir / 'bench_tcp.py')]),
                        _uvloop_cmd([python,
                                     str(bench_dir / 'bench_iec104.py')]),
                        _uvloop_cmd([python,
                                     str(bench_dir / 'bench_mms.py')]),
                        _cmd([python, str(bench_dir / 'bench_ber.py')])],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def task_bench_iec104():
    """Run benchmarks/bench_iec104.py (args after -- go to it)"""
    return {'actions': [_pos_cmd([python,
                                  str(bench_dir / 'bench_iec104.py')])],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def task_bench_mms():
    """Run benchmarks/bench_mms.py (args after -- go to it)"""
    return {'actions': [_pos_cmd([python, str(bench_dir / 'bench_mms.py')])],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def task_bench_ber():
    """Run benchmarks/bench_ber.py (args after -- go to it)"""
    return {'actions': [_pos_cmd_no_uvloop([python,
                                            str(bench_dir / 'bench_ber.py')])],
            'pos_arg': 'pos',
            'uptodate': [False]}


def _pos_cmd_no_uvloop(args):
    """Command `args` followed by the task's positional arguments"""
    def action(pos):
        return [*args, *pos]

    return CmdAction(action, env=_env(), cwd=root_dir, shell=False)


def _rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


class _PageParser(html.parser.HTMLParser):
    """Links, element ids and docstring list entries of an HTML page

    `entries` holds one ``(member, heading, name, text)`` per list item of
    a pdoc page: ``member`` the id of the enclosing pdoc member
    (``connect``, ``Connection.read``), ``heading`` the last ``h6`` before
    it (``Arguments:``, ``Raises:``), ``name`` the text of the ``strong``
    element the item starts with (``None`` if it does not start with one)
    and ``text`` all of its text.

    """

    def __init__(self):
        super().__init__()
        self.hrefs = []
        self.ids = set()
        self.entries = []
        self._member = None
        self._heading = None
        self._in_heading = False
        self._item = None  # [name, text, started] of the open list item
        self._in_strong = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get('id'):
            self.ids.add(attrs['id'])
            classes = (attrs.get('class') or '').split()
            if tag == 'section' or (tag == 'div' and 'classattr' in classes):
                self._member = attrs['id']
                self._heading = None

        if tag == 'a' and attrs.get('href'):
            self.hrefs.append(attrs['href'])

        elif tag == 'h6':
            self._in_heading = True
            self._heading = ''

        elif tag == 'li':
            self._item = [None, '', False]

        elif tag == 'strong' and self._item is not None:
            if not self._item[2]:
                self._item[0] = ''
                self._in_strong = True
            self._item[2] = True

        elif self._item is not None:
            self._item[2] = True

    def handle_endtag(self, tag):
        if tag == 'h6':
            self._in_heading = False

        elif tag == 'strong':
            self._in_strong = False

        elif tag == 'li' and self._item is not None:
            name, text, _ = self._item
            self.entries.append((self._member, self._heading, name,
                                 ' '.join(text.split())))
            self._item = None

    def handle_data(self, data):
        if self._in_heading:
            self._heading += data.strip()

        if self._item is not None:
            if data.strip():
                self._item[2] = True
            self._item[1] += data
            if self._in_strong:
                self._item[0] += data


def _parse_page(path):
    parser = _PageParser()
    parser.feed(path.read_text(encoding='utf-8'))
    return parser


def _check_docs_links():
    """Links from Sphinx pages into the pdoc site must resolve

    Every relative link of a Sphinx page that points into ``pyhat`` has to
    name an existing file of the built site and, if it has a fragment
    (``tcp.html#Connection.write``), an element with that id; the tcp page
    must have its API link. Returns ``False`` (task failure) otherwise.

    """
    docs_root = build_docs_dir.resolve()
    pyhat_root = build_pyhat_dir.resolve()
    checked = {}
    missing = []
    ids = {}

    for page in sorted(docs_root.rglob('*.html')):
        if page.resolve().is_relative_to(pyhat_root):
            continue

        rel_page = page.relative_to(docs_root)
        for href in _parse_page(page).hrefs:
            url = urllib.parse.urlsplit(href)
            if url.scheme or url.netloc or 'pyhat/' not in url.path:
                continue

            target = (page.parent / urllib.parse.unquote(url.path)).resolve()
            checked[str(rel_page), href] = target
            if not target.is_file() or not target.is_relative_to(docs_root):
                missing.append(f'{rel_page}: {href} -> {target}')
                continue

            if url.fragment:
                if target not in ids:
                    ids[target] = _parse_page(target).ids
                if urllib.parse.unquote(url.fragment) not in ids[target]:
                    missing.append(f'{rel_page}: {href}: no element with id '
                                   f'{url.fragment!r} in {target}')

    tcp_target = pyhat_root / 'hat' / 'drivers' / 'tcp.html'
    if tcp_target not in checked.values():
        missing.append(f'tcp.html: no link to {tcp_target}')

    print(f'docs links into pyhat: {len(checked)} checked, '
          f'{len(missing)} broken')
    if missing:
        print('broken links into pyhat:', *missing, sep='\n  ',
              file=sys.stderr)
        return False


# (page, member, heading, entry name): entries the API reference must
# render as list items (pdoc -d google); a run-on paragraph has none
_API_ENTRIES = [
    ('tcp.html', 'connect', 'Arguments:', 'input_buffer_limit'),
    ('tcp.html', 'connect', 'Raises:', 'ConnectionError'),
    ('tcp.html', 'listen', 'Arguments:', 'bind_connections'),
    ('tcp.html', 'Connection.readexactly', 'Raises:', 'ConnectionError'),
    ('tpkt.html', 'Connection.write', 'Raises:', 'ValueError'),
]

# (page, id): members the API reference must show, inherited ones included
_API_IDS = [
    ('tcp.html', f'Server.{name}')
    for name in ('is_open', 'is_closing', 'is_closed', 'wait_closing',
                 'wait_closed', 'close', 'async_close')
] + [
    ('tpkt.html', f'Server.{name}')
    for name in ('close', 'async_close', 'wait_closed')
]


def _check_api_docs():
    """The pdoc API reference renders Google style docstrings as lists

    The entries of `_API_ENTRIES` and the ids of `_API_IDS` must be there,
    and every list item under an ``Arguments:`` or ``Raises:`` heading of
    every page must start with its name in bold (``name:  text``): an entry
    pdoc could not split (for example several names over two lines) shows
    up as plain text. Returns ``False`` (task failure) otherwise.

    """
    drivers_dir = build_pyhat_dir / 'hat' / 'drivers'
    pages = {path.relative_to(drivers_dir).as_posix(): _parse_page(path)
             for path in sorted(drivers_dir.rglob('*.html'))}
    problems = []

    for page_name, member, heading, name in _API_ENTRIES:
        page = pages.get(page_name)
        names = [] if page is None else [
            entry_name for entry_member, entry_heading, entry_name, _
            in page.entries
            if entry_member == member and entry_heading == heading]
        if name not in ' '.join(n or '' for n in names).replace(
                ',', ' ').replace(':', ' ').split():
            problems.append(f'{page_name}: {member}: no {heading} list '
                            f'entry for {name} (entries: {names})')

    for page_name, element_id in _API_IDS:
        page = pages.get(page_name)
        if page is None or element_id not in page.ids:
            problems.append(f'{page_name}: {element_id} not shown')

    for page_name, page in pages.items():
        for member, heading, name, text in page.entries:
            if heading in ('Arguments:', 'Raises:') and not name:
                problems.append(f'{page_name}: {member}: {heading} entry '
                                f'without a name: {text[:60]!r}')

    print(f'API reference: {len(pages)} pages, '
          f'{sum(len(p.entries) for p in pages.values())} list entries, '
          f'{len(problems)} problems')
    if problems:
        print('API reference problems:', *problems, sep='\n  ',
              file=sys.stderr)
        return False
