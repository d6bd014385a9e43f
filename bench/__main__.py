"""`python -m bench [NAME ...] [--json] [--seconds S]`: run benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from bench.report import Row

BENCHMARKS: dict[str, str] = {
    "api": "bench.api",
    "dispatcher": "bench.dispatcher",
    "launch": "bench.launch_api",
    "loaders": "bench.loaders",
    "backfill": "bench.backfill",
    "admission": "bench.admission",
}


def _runner(name: str) -> Callable[..., list[Row]]:
    module = importlib.import_module(BENCHMARKS[name])
    run: Callable[..., list[Row]] = module.run
    return run


def _table(rows: list[Row]) -> Table:
    table = Table(title="StreamForge benchmarks")
    for column in ("benchmark", "metric", "value", "baseline", "ratio", "target", "met"):
        table.add_column(column)
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        baseline = f"{row.baseline:,.1f}" if row.baseline is not None else ""
        met = {True: "yes", False: "NO", None: ""}[row.met]
        table.add_row(
            row.benchmark,
            row.metric,
            f"{row.value:,.1f} {row.unit}",
            baseline,
            ratio,
            row.target,
            met,
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, []],
        metavar="NAME",
        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load")
    args = parser.parse_args()
    rows: list[Row] = []
    for name in args.names or list(BENCHMARKS):
        rows.extend(_runner(name)(seconds=args.seconds))
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        # piped output (CI logs, reports) gets a wide table rather than rich's 80 columns
        Console(width=None if sys.stdout.isatty() else 180).print(_table(rows))


if __name__ == "__main__":
    main()
