"""Run the benchmark suite and write its report: the one command.

    python -m benchmarks.run            # everything (about an hour on 2 cores)
    python -m benchmarks.run --quick    # the headline cases, under 3 minutes

Writes ``benchmarks/results/<name>.json`` (pytest-benchmark's), ``.md``
(table) and ``.png`` (chart); ``<name>`` is ``benchmark`` or
``benchmark-quick``. Extra arguments go to pytest (e.g. ``-k step``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from benchmarks import report

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="benchmark inceptionism vs PyTorch")
    ap.add_argument("--quick", action="store_true", help="headline cases only")
    args, rest = ap.parse_known_args(argv)
    name = "benchmark-quick" if args.quick else "benchmark"
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    js = out / f"{name}.json"
    code = pytest.main(
        [
            str(HERE),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={js}",
            "--benchmark-sort=name",
            "--benchmark-columns=min,median,rounds",
            *(["--quick"] if args.quick else []),
            *rest,
        ]
    )
    if code not in (0, pytest.ExitCode.NO_TESTS_COLLECTED) or not js.exists():
        return int(code) or 1
    return report.main([str(js), "--name", name])


if __name__ == "__main__":
    sys.exit(main())
