"""Mutation testing of hat.drivers.tcp and hat.drivers.tpkt with mutmut 3.

Runs in a throw-away copy of the repository (``git archive`` of a commit),
never in the working tree: the copy's ``src_py`` becomes ``src`` (mutmut
derives module names from paths under ``src/``), a ``[tool.mutmut]``
section is appended to the copy's ``pyproject.toml``, and mutmut runs
there under ``nice -n 19``. Not part of CI.

Usage (from the repository root, mutmut installed in the venv:
``.venv/bin/pip install 'mutmut==3.8.1'``):

    .venv/bin/python test_pytest/mutation/run_mutmut.py --ref HEAD

See test_pytest/README.md for the subset of tests, sampling and scores.

"""

import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MUTATED = ['src/hat/drivers/tcp.py', 'src/hat/drivers/tpkt.py']

# the tests of tcp and tpkt (those present at the commit run)
TEST_FILES = ['test_tcp.py', 'test_tcp_faults.py', 'test_tcp_features.py',
              'test_tcp_peer_faults.py', 'test_tcp_pinned.py', 'test_tpkt.py',
              'test_tpkt_pinned.py']

# slow or environment-bound tests left out: floods, storms, the netns
# silent peer, tshark, subprocess playgrounds, EMFILE (subprocess)
EXCLUDED = ['storm', 'backlog', '1000_connections', 'flood', 'emfile',
            'wireshark', 'silent_peer', 'playground']

# wall-clock bound of one mutant's test run (seconds), see _watchdog
MUTANT_WALL_LIMIT = 150

# mutmut exit-code classes (mutmut.__main__.status_by_exit_code)
# ('segfault' is mutmut's name for a worker that died of a signal: here the
# watchdog's SIGKILL of a hung mutant)
KILLED = {'killed', 'timeout', 'caught by type check', 'segfault'}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ref', default='HEAD',
                        help='commit whose tcp.py, tpkt.py and tests are '
                             'used (default HEAD)')
    parser.add_argument('--workdir', type=Path,
                        help='copy of the repository (default '
                             '/tmp/hat-mutation-<commit>)')
    parser.add_argument('--sample', type=int, default=0,
                        help='run a random sample of this many mutants '
                             '(0: all)')
    parser.add_argument('--seed', type=int, default=2026,
                        help='seed of the sample (default 2026)')
    parser.add_argument('--max-children', type=int, default=3,
                        help='mutants run at once (default 3; the tests '
                             'mostly wait, so they need little CPU)')
    parser.add_argument('--mutants', nargs='*', default=None,
                        help='run exactly these mutants (names as printed)')
    parser.add_argument('--keep', action='store_true',
                        help='reuse an existing copy and its results')
    args = parser.parse_args()

    commit = _git('rev-parse', args.ref).strip()
    workdir = args.workdir or Path(f'/tmp/hat-mutation-{commit[:7]}')
    if not args.keep or not workdir.exists():
        _make_copy(commit, workdir)

    mutmut = [str(Path(sys.executable).parent / 'mutmut')]
    nice = ['nice', '-n', '19']
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)

    if args.mutants is not None:
        names = args.mutants
    else:
        # first pass: generate the mutants and collect which tests cover
        # which function; the name pattern matches no mutant, so mutmut
        # stops (with an assertion) after saving both
        _run(nice + mutmut + ['run', '--max-children', '1',
                              'nothing.matches.this*'], workdir, env,
             check=False)
        names = sorted(_results(workdir))
        if not names:
            sys.exit('mutmut generated no mutants (see its output above)')
        if args.sample and args.sample < len(names):
            names = sorted(random.Random(args.seed).sample(names,
                                                           args.sample))

    print(f'{len(names)} mutants to run', flush=True)
    start = time.monotonic()
    batch = 200  # keep the command line short
    for i in range(0, len(names), batch):
        _run(nice + mutmut + ['run', '--max-children',
                              str(args.max_children), *names[i:i + batch]],
             workdir, env)
    elapsed = time.monotonic() - start

    results = _results(workdir)
    chosen = {name: results.get(name, 'not run') for name in names}
    counts = collections.Counter(chosen.values())
    killed = sum(n for status, n in counts.items() if status in KILLED)
    summary = {'commit': commit, 'mutants_total': len(results),
               'mutants_run': len(names), 'seed': args.seed,
               'sample': args.sample, 'counts': dict(counts),
               'killed': killed,
               'score': round(100 * killed / len(names), 1) if names else 0,
               'elapsed_s': round(elapsed),
               'not_killed': sorted(n for n, s in chosen.items()
                                    if s not in KILLED)}
    out = workdir / 'mutation-summary.json'
    out.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items()
                      if k != 'not_killed'}, indent=1))
    print('not killed:')
    for name in summary['not_killed']:
        print(f'  {name}: {chosen[name]}')
    print(f'summary: {out}; a mutant\'s diff: '
          f'(cd {workdir} && {mutmut[0]} show NAME)')


def _make_copy(commit, workdir):
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    archive = subprocess.run(['git', '-C', str(REPO), 'archive', commit],
                             check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', str(workdir)], input=archive,
                   check=True)
    (workdir / 'src_py').rename(workdir / 'src')

    tests = [f'test_pytest/{name}' for name in TEST_FILES
             if (workdir / 'test_pytest' / name).exists()]
    selection = tests + ['-k', ' and '.join(f'not {word}'
                                            for word in EXCLUDED)]
    pyproject = workdir / 'pyproject.toml'
    text = pyproject.read_text().replace('pythonpath = ["src_py"]',
                                         'pythonpath = ["src"]')
    text += ('\n[tool.mutmut]\n'
             'source_paths = ["src"]\n'
             f'only_mutate = {json.dumps(MUTATED)}\n'
             'also_copy = ["test_pytest", "playground"]\n'
             f'pytest_add_cli_args_test_selection = {json.dumps(selection)}\n'
             'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
             'use_git_change_detection = false\n')
    pyproject.write_text(text)


def _results(workdir):
    from mutmut.stats import status_by_exit_code
    results = {}
    for path in MUTATED:
        meta = workdir / 'mutants' / (path + '.meta')
        if not meta.exists():
            continue
        data = json.loads(meta.read_text())
        for name, code in data['exit_code_by_key'].items():
            results[name] = status_by_exit_code.get(code, f'exit {code}')
    return results


def _run(cmd, cwd, env, check=True):
    print('$', ' '.join(cmd[:8]), '...' if len(cmd) > 8 else '', flush=True)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)
    stop = threading.Event()
    watchdog = threading.Thread(target=_watchdog, args=(proc.pid, stop),
                                daemon=True)
    watchdog.start()
    try:
        code = proc.wait()
    finally:
        stop.set()
        watchdog.join()
    if check and code:
        raise subprocess.CalledProcessError(code, cmd[:3])


def _watchdog(parent, stop):
    # mutmut bounds a mutant by CPU time only; a mutant that leaves a task
    # waiting forever (say, a reader never woken) hangs in pytest-asyncio's
    # teardown at no CPU cost, after the pytest timeout already fired. Such
    # a worker (a child of this run's mutmut) is killed after
    # MUTANT_WALL_LIMIT seconds; mutmut records the SIGKILL (-9) and this
    # script counts it as killed by timeout.
    started = {}
    while not stop.wait(5):
        now = time.monotonic()
        for pid in _children(parent):
            started.setdefault(pid, now)
            if now - started[pid] > MUTANT_WALL_LIMIT:
                print(f'watchdog: mutant worker {pid} ran over '
                      f'{MUTANT_WALL_LIMIT} s: killed', flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _children(parent):
    path = Path(f'/proc/{parent}/task/{parent}/children')
    try:
        return [int(pid) for pid in path.read_text().split()]
    except (OSError, ValueError):
        return []


def _git(*args):
    return subprocess.run(['git', '-C', str(REPO), *args], check=True,
                          capture_output=True, text=True).stdout


if __name__ == '__main__':
    main()
