"""doit tasks of hat-drivers

Every task runs tools with the interpreter that runs doit (`sys.executable`)
and puts ``src_py`` on ``PYTHONPATH``, so nothing has to be installed
beyond the ``dev`` extra's tools.

    doit test [--uvloop] [-- PYTEST ARGS...]   pytest over test_pytest
    doit check                                 ruff + mypy on src_py
    doit docs                                  Sphinx + pdoc: build/docs
    doit build                                 wheel into build/py
    doit bench [--uvloop] [-- BENCH ARGS...]   benchmarks/bench_tcp.py

Arguments after ``--`` are passed on unchanged (doit itself would reject
unknown options), e.g. ``doit test --uvloop -- -x -k read``.

"""

from pathlib import Path
import html.parser
import os
import shutil
import sys
import urllib.parse

from doit.action import CmdAction


DOIT_CONFIG = {'default_tasks': ['test'],
               'verbosity': 2}

root_dir = Path(__file__).resolve().parent
src_py_dir = root_dir / 'src_py'
src_doc_dir = root_dir / 'src_doc'
test_dir = root_dir / 'test_pytest'
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


def task_test():
    """Run pytest over test_pytest (args after -- go to pytest)"""
    return {'actions': [_pos_cmd([python, '-m', 'pytest', str(test_dir)])],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def task_check():
    """Run ruff check and mypy on src_py"""
    return {'actions': [_cmd([python, '-m', 'ruff', 'check',
                              str(src_py_dir)]),
                        _cmd([python, '-m', 'mypy'])],
            'uptodate': [False]}


def task_docs():
    """Build Sphinx docs (build/docs) and pdoc API docs (build/docs/pyhat)"""
    return {'actions': [(_rmtree, [build_docs_dir]),
                        _cmd([python, '-m', 'sphinx', '-W', '--keep-going',
                              '-q', '-b', 'html',
                              str(src_doc_dir), str(build_docs_dir)]),
                        _cmd([python, '-m', 'pdoc',
                              '-o', str(build_pyhat_dir),
                              'hat.drivers']),
                        _check_docs_links],
            'uptodate': [False]}


def task_build():
    """Build wheel into build/py"""
    return {'actions': [(_rmtree, [build_py_dir]),
                        _cmd([python, '-m', 'pip', 'wheel', '--no-deps',
                              '-w', str(build_py_dir), str(root_dir)])],
            'uptodate': [False]}


def task_bench():
    """Run benchmarks/bench_tcp.py (args after -- go to it)"""
    return {'actions': [_pos_cmd([python, str(bench_dir / 'bench_tcp.py')])],
            'params': [_uvloop_param],
            'pos_arg': 'pos',
            'uptodate': [False]}


def _rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


class _HrefParser(html.parser.HTMLParser):

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag != 'a':
            return
        for name, value in attrs:
            if name == 'href' and value:
                self.hrefs.append(value)


def _check_docs_links():
    """Links from Sphinx pages into the pdoc site must resolve

    Every relative link of a Sphinx page that points into ``pyhat`` has to
    name an existing file of the built site, and the tcp page must have its
    API link. Returns ``False`` (task failure) otherwise.

    """
    docs_root = build_docs_dir.resolve()
    pyhat_root = build_pyhat_dir.resolve()
    checked = {}
    missing = []

    for page in sorted(docs_root.rglob('*.html')):
        if page.resolve().is_relative_to(pyhat_root):
            continue

        parser = _HrefParser()
        parser.feed(page.read_text(encoding='utf-8'))

        for href in parser.hrefs:
            url = urllib.parse.urlsplit(href)
            if url.scheme or url.netloc or 'pyhat/' not in url.path:
                continue

            target = (page.parent / urllib.parse.unquote(url.path)).resolve()
            rel_page = page.relative_to(docs_root)
            checked[str(rel_page), href] = target
            if not target.is_file() or not target.is_relative_to(docs_root):
                missing.append(f'{rel_page}: {href} -> {target}')

    tcp_target = pyhat_root / 'hat' / 'drivers' / 'tcp.html'
    if tcp_target not in checked.values():
        missing.append(f'tcp.html: no link to {tcp_target}')

    for (rel_page, href), target in checked.items():
        status = 'ok' if target.is_file() else 'MISSING'
        print(f'docs link {status}: {rel_page} -> {href}')

    if missing:
        print('broken links into pyhat:', *missing, sep='\n  ',
              file=sys.stderr)
        return False
