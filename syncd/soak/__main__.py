"""``python -m syncd.soak``: run N seeded schedules and print the figure and each failure."""

from __future__ import annotations

import argparse
import os
import sys

from syncd.soak.runner import run_many, summary_line
from syncd.soak.schedule import Options, Result


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="syncd-soak", description=__doc__)
    parser.add_argument("--schedules", type=int, default=100, help="how many schedules")
    parser.add_argument("--seed-start", type=int, default=0, help="first seed")
    parser.add_argument("--clients", type=int, default=3, help="clients per schedule")
    parser.add_argument("--steps", type=int, default=8, help="steps per schedule")
    parser.add_argument(
        "--daemons", type=int, default=0, help="clients that run `syncd run` throughout"
    )
    parser.add_argument("--faults", action="store_true", help="server faults, restarts, restores")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SYNCD_SOAK_DATABASE_URL"),
        help="a PostgreSQL cluster (postgresql://USER@HOST/DB): each schedule's server keeps "
        "its metadata in a fresh database there (default: SQLite; env SYNCD_SOAK_DATABASE_URL)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="server processes on one database, in turn"
    )
    parser.add_argument("--jobs", type=int, default=2, help="schedules run at once")
    parser.add_argument("--shrink", type=int, default=16, help="runs spent shrinking a failure")
    parser.add_argument("--keep", action="store_true", help="keep every schedule's folders")
    parser.add_argument("--quiet", action="store_true", help="no progress line per schedule")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = Options(
        clients=args.clients,
        steps=args.steps,
        faults=args.faults,
        keep=args.keep,
        daemons=args.daemons,
        processes=args.processes,
        database_url=args.database_url,
    )

    done: list[Result] = []

    def progress(result: Result) -> None:
        done.append(result)
        if not args.quiet:
            status = ", ".join(sorted(result.kinds)) or "ok"
            line = f"seed {result.seed}: {status} (so far: {summary_line(done)})"
            print(line, file=sys.stderr, flush=True)

    seeds = range(args.seed_start, args.seed_start + args.schedules)
    results = run_many(
        seeds, options, jobs=args.jobs, shrink_budget=args.shrink, on_result=progress
    )
    failed = [r for r in results if r.failures]
    for result in failed:
        print(result.report())
        print(
            f"  replay: python -m syncd.soak --schedules 1 --seed-start {result.seed}"
            f"{' --faults' if args.faults else ''} --steps {args.steps} --clients {args.clients}"
            f" --daemons {args.daemons} --processes {args.processes}"
            f"{' --database-url URL' if args.database_url else ''}"
        )
    print(summary_line(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
