"""`sfvopi-bot audit verify` and `audit export`: their arguments here, their work in
bot/audit/commands.py, imported when one of them runs (it opens the store)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "audit_export", "audit_verify"]


def add_parser(commands: Any) -> None:
    """`audit verify` and `audit export` (bot/audit/commands.py, imported when they run)."""
    audit_cmd = commands.add_parser(
        "audit",
        help="check the tamper-evident audit log, or export it (docs/audit.md)",
        description="The event log of every request, hash-chained: verify the chain, or "
        "export it as JSON Lines or CSV. Reads SFVOPI_DATABASE_URL.",
    )
    audit = audit_cmd.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify_cmd = audit.add_parser(
        "verify",
        help="recompute the hash chain; name the first broken link (exit 1) or say it holds",
        description="Recompute every event's hash and its link to the event before it. Exit 0 "
        "when the chain is intact, 1 naming each broken link (edited, deleted, inserted or "
        "reordered rows), the first first.",
    )
    verify_cmd.set_defaults(run=audit_verify)
    export_cmd = audit.add_parser(
        "export",
        help="write the audit log as JSON Lines or CSV (schema: docs/audit.md)",
        description="Write one record per event, oldest first, in the schema docs/audit.md "
        "documents. CSV cells that a spreadsheet would run as a formula are prefixed with '.",
    )
    export_cmd.add_argument(
        "--since", metavar="ISO-8601", help="only events at or after this time (UTC unless given)"
    )
    export_cmd.add_argument("--org", metavar="NAME", help="only this organization's requests")
    export_cmd.add_argument(
        "--format", dest="fmt", choices=("jsonl", "csv"), default="jsonl", help="default: jsonl"
    )
    export_cmd.add_argument(
        "--output", type=Path, metavar="FILE", help="write here instead of standard output"
    )
    export_cmd.set_defaults(run=audit_export)


def audit_verify(args: argparse.Namespace) -> int:
    from bot.audit.commands import verify_chain

    return asyncio.run(verify_chain())


def audit_export(args: argparse.Namespace) -> int:
    from bot.audit.commands import export, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"sfvopi-bot audit export: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(export(fmt=args.fmt, output=args.output, since=since, org=args.org))
