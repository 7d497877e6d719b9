"""sfvopi-bot benchmarks, all on loopback: ack latency against bare Bolt, acks under a slow API,
bulk throughput, approvals per second, memory and start-up time.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAME ...] [--no-postgres]

What runs where (see benchmarks/README.md for why):
  - the bot: `python -m bot serve` in a subprocess, a fresh SQLite file (or PostgreSQL database)
    per scenario, configured only through its environment, as in production;
  - the floor: benchmarks/floor_app.py, a bare Bolt AsyncApp whose /sfvopi listener only acks,
    in a subprocess, once with process_before_response=False (Bolt's default), once with True;
  - the SFVoPI emulator: `python -m bot.sandbox.emulator` in a subprocess (latency set over its
    control endpoint), so a hundred sleeping API calls never share a loop with anything we time;
  - the Slack stand-in: in this process; it takes the bot's Web API calls and is the Slack
    client for the few commands and clicks we send ourselves;
  - load: benchmarks/loadgen.py in a subprocess, signed slash commands at a fixed concurrency.

This file only reads the flags, runs benchmarks.suite and writes the figures; the harness is
benchmarks/harness.py, each scenario one module in benchmarks/scenarios/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# run as a script, only benchmarks/ is on the path: the package and tests/support live above it
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks import suite  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument("--json", type=Path, default=HERE / "results.json", metavar="FILE")
    parser.add_argument("--only", nargs="*", choices=suite.SCENARIOS, help="run only these")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (bot logs, DBs)")
    parser.add_argument(
        "--bot-env",
        action="append",
        metavar="KEY=VALUE",
        help="extra environment for the bot (repeatable), e.g. SFVOPI_LOG_LEVEL=WARNING",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the bot under load into DIR"
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    options = suite.Options(
        quick=args.quick,
        only=frozenset(args.only or suite.SCENARIOS),
        postgres=not args.no_postgres,
        keep=args.keep,
        bot_env=dict(item.split("=", 1) for item in args.bot_env or []),
        profile_dir=args.profile,
    )
    results = asyncio.run(suite.run(options))
    results.table = suite.table(results)
    args.json.write_text(json.dumps(results.to_json(), indent=2, default=str) + "\n")
    print(results.table)
    print(f"\n{results.elapsed_s} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
