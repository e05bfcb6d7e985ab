"""Code blocks of the documentation pages (src_doc/*.rst) run as copied

The rule, for every page in ``src_doc/``:

* A code block is a literal block (a paragraph ending in ``::``) or a
  ``.. code-block::`` / ``.. code::`` directive. Literal blocks and
  directives with the language ``python`` (or none) hold Python; blocks in
  any other language (``sh``, ``text``, ...) are not Python and are not
  checked.
* Every Python block is a **complete example**: a program that runs as it
  is, copied into a file (imports included, ``asyncio.run(main())`` at the
  end, no top-level ``await``). Each one runs here, verbatim, in its own
  interpreter (on uvloop with ``--uvloop``), and must exit with status 0
  within `TIMEOUT` seconds, with no log record of level ERROR or above
  (a normal exchange logs none) and no traceback.
* A block that is deliberately not a complete program (a fragment that
  needs surrounding code, signatures only) is marked by the reST comment
  ``.. partial example`` (anything may follow on the same line) placed
  before it: the next code block after the comment is partial. Partial
  blocks are only compiled (top-level ``await`` allowed), so they still
  have to be valid Python.

Every page with Python code has at least one complete example, and there
are tests that blocks are found at all and that the marker is honoured (so
a parser change cannot make the examples silently disappear).

"""

from pathlib import Path
import ast
import os
import re
import subprocess
import sys
import textwrap
import typing

import pytest


REPO = Path(__file__).resolve().parent.parent
SRC_DOC = REPO / 'src_doc'
TIMEOUT = 30

PARTIAL = re.compile(r'^\s*\.\. partial example\b')
DIRECTIVE = re.compile(r'^(\s*)\.\. (?:code-block|code|sourcecode)::\s*(\S*)')


class Block(typing.NamedTuple):
    page: str
    line: int          # line of the block's first code line (1-based)
    language: str      # 'python' or the directive's language
    partial: bool
    code: str

    @property
    def id(self) -> str:
        return f'{self.page}:{self.line}'


def extract_blocks(page: str, text: str) -> list[Block]:
    """Code blocks of an reST text, in order (see the module docstring)"""
    lines = text.splitlines()
    blocks = []
    partial = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if PARTIAL.match(line):
            partial = True
            i += 1
            continue

        directive = DIRECTIVE.match(line)
        if directive:
            language = directive.group(2) or 'python'
            base = len(directive.group(1))
            # directive options (":linenos:" ...) belong to the directive
            i += 1
            while i < len(lines) and lines[i].strip().startswith(':'):
                i += 1

        elif (line.rstrip().endswith('::') and
              not line.lstrip().startswith('..')):
            language = 'python'
            base = _indent(line)
            # the paragraph may start on an earlier line: its indent counts
            j = i
            while j > 0 and lines[j - 1].strip():
                j -= 1
            base = min(base, _indent(lines[j]))
            i += 1

        else:
            i += 1
            continue

        start = i
        while i < len(lines) and (not lines[i].strip() or
                                  _indent(lines[i]) > base):
            i += 1
        body = lines[start:i]
        while body and not body[-1].strip():
            body.pop()
        first = next((k for k, text_line in enumerate(body)
                      if text_line.strip()), None)
        if first is None:
            continue

        blocks.append(Block(page=page,
                            line=start + first + 1,
                            language=language.lower(),
                            partial=partial,
                            code=textwrap.dedent('\n'.join(body[first:])) +
                            '\n'))
        partial = False

    return blocks


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


PAGES = sorted(SRC_DOC.glob('*.rst'))
BLOCKS = [block
          for page in PAGES
          for block in extract_blocks(page.name,
                                      page.read_text(encoding='utf-8'))
          if block.language == 'python']
COMPLETE = [block for block in BLOCKS if not block.partial]
PARTIAL_BLOCKS = [block for block in BLOCKS if block.partial]

# runs an example as __main__ and fails if anything logged ERROR or above
RUNNER = '''\
import logging
import runpy
import sys

records = []


class Handler(logging.Handler):

    def emit(self, record):
        records.append(self.format(record))


logging.getLogger().addHandler(Handler(logging.ERROR))
if sys.argv[2] == 'uvloop':
    import asyncio
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

runpy.run_path(sys.argv[1], run_name='__main__')
if records:
    sys.stderr.write('ERROR records logged:\\n' + '\\n'.join(records) + '\\n')
    sys.exit(3)
'''


@pytest.mark.parametrize('block', COMPLETE, ids=[b.id for b in COMPLETE])
def test_complete_example_runs(block, tmp_path, request):
    example = tmp_path / 'example.py'
    example.write_text(block.code, encoding='utf-8')
    loop = 'uvloop' if request.config.getoption('--uvloop') else 'asyncio'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO / 'src_py'), *filter(None, [env.get('PYTHONPATH')])])
    try:
        result = subprocess.run(
            [sys.executable, '-c', RUNNER, str(example), loop],
            cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=TIMEOUT)

    except subprocess.TimeoutExpired:
        raise AssertionError(f'{block.id}: still running after {TIMEOUT} s '
                             f'(examples must end)') from None

    assert result.returncode == 0, (
        f'{block.id}: exit status {result.returncode}\n{result.stderr}')
    assert 'Traceback' not in result.stderr, f'{block.id}\n{result.stderr}'


@pytest.mark.parametrize('block', PARTIAL_BLOCKS,
                         ids=[b.id for b in PARTIAL_BLOCKS])
def test_partial_example_compiles(block):
    compile(block.code, block.id, 'exec',
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


CODE_PAGES = sorted({block.page for block in BLOCKS})


@pytest.mark.parametrize('page', CODE_PAGES)
def test_page_has_complete_example(page):
    assert any(block.page == page for block in COMPLETE), (
        f'{page}: no complete example (every page with Python code shows '
        f'at least one program that runs as copied)')


def test_pages_found():
    assert {'tcp.rst', 'tpkt.rst'} <= set(CODE_PAGES)
    assert len(COMPLETE) >= 6


def test_complete_examples_are_programs():
    """Complete examples need no surrounding code: no top-level await"""
    for block in COMPLETE:
        try:
            compile(block.code, block.id, 'exec')

        except SyntaxError as e:
            raise AssertionError(f'{block.id}: not a complete program '
                                 f'({e.msg}); mark it with '
                                 f'".. partial example" or complete it'
                                 ) from None


def test_extract_blocks():
    text = textwrap.dedent('''\
        Title
        =====

        A complete one::

            import sys
            sys.exit(0)

        Expanded form:

        ::

            print(1)

        .. partial example

        A fragment that needs context,
        over two lines::

            await conn.drain()

        .. code-block:: sh

            .venv/bin/python playground/demo.py

        .. code-block:: python
           :linenos:

           x = 1

        Text after.
        ''')
    blocks = extract_blocks('page.rst', text)
    assert [(b.line, b.language, b.partial, b.code) for b in blocks] == [
        (6, 'python', False, 'import sys\nsys.exit(0)\n'),
        (13, 'python', False, 'print(1)\n'),
        (20, 'python', True, 'await conn.drain()\n'),
        (24, 'sh', False, '.venv/bin/python playground/demo.py\n'),
        (29, 'python', False, 'x = 1\n')]


SIGNATURE_PAGES = {'tcp.rst': 'hat.drivers.tcp',
                   'tpkt.rst': 'hat.drivers.tpkt'}


@pytest.mark.parametrize('page', sorted(SIGNATURE_PAGES))
def test_signature_block_lists_api(page):
    """The first code block of a module page (signatures at a glance)
    names every public function and class of the module with their
    parameters, and every public member of its classes, inherited
    lifetime members (close, async_close, is_open, ...) included"""
    import importlib
    import inspect

    module = importlib.import_module(SIGNATURE_PAGES[page])
    block = next(b for b in BLOCKS if b.page == page)
    assert block.partial, f'{block.id}: expected the signature block'
    tree = ast.parse(block.code)

    documented = {node.name: node for node in tree.body
                  if isinstance(node, (ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))}
    problems = []
    for name, obj in vars(module).items():
        if name.startswith('_') or getattr(obj, '__module__',
                                           None) != module.__name__:
            continue

        if inspect.isfunction(obj):
            node = documented.get(name)
            if node is None or isinstance(node, ast.ClassDef):
                problems.append(f'function {name} missing')
                continue
            params = [p for p in inspect.signature(obj).parameters]
            args = node.args
            listed = [a.arg for a in [*args.posonlyargs, *args.args,
                                      *args.kwonlyargs]]
            listed += [a.arg for a in (args.vararg, args.kwarg) if a]
            if listed != params:
                problems.append(f'{name}: parameters {listed}, API has '
                                f'{params}')

        elif inspect.isclass(obj) and not issubclass(obj, tuple):
            node = documented.get(name)
            if node is None or not isinstance(node, ast.ClassDef):
                problems.append(f'class {name} missing')
                continue
            members = {item.name for item in node.body
                       if isinstance(item, (ast.FunctionDef,
                                            ast.AsyncFunctionDef))}
            # members of the class and of its non-builtin bases
            public = {member
                      for cls in obj.__mro__ if cls.__module__ != 'builtins'
                      for member in vars(cls)
                      if not member.startswith('_')}
            for member in sorted(public - members):
                problems.append(f'{name}.{member} missing')

    assert not problems, f'{block.id}:\n' + '\n'.join(problems)
