"""`check-config --explain [ACTION TARGET…]`: the org file's policy rules, or which one a
request would fall under and why, as `/sfvopi policy` answers it in Slack."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config.orgfile import load_orgs
from bot.config.settings import environ_with_dotenv
from bot.core.workflow.explaining import lines
from bot.errors import OrgFileError, ParseError
from bot.slack.grammar import parse

__all__ = ["explain"]


def explain(path: Path | None, org: str | None, words: list[str], linked: int | None = None) -> int:
    """Prints the explanation (exit 0), or why there is none (exit 1: a bad file, an
    unknown org, targets that do not parse)."""
    environ = environ_with_dotenv()
    path = path or Path(environ.get("SFVOPI_ORGS_FILE") or "orgs.yml")
    try:
        directory = load_orgs(path, environ)
        command = parse(" ".join(["policy", *words]))
    except OrgFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"check-config: fix {path} first", file=sys.stderr)
        return 1
    except ParseError as exc:
        print(f"check-config --explain: {exc.message}", file=sys.stderr)
        return 1
    names = list(directory.orgs)
    chosen = directory.get(org) if org is not None else None
    if chosen is None:
        if org is not None or len(names) != 1:
            said = f"no organization named {org!r}" if org is not None else "several organizations"
            print(
                f"check-config --explain: {said} in {path}; name one with --org "
                f"({', '.join(names)})",
                file=sys.stderr,
            )
            return 1
        chosen = directory.orgs[names[0]]
    ruled = (
        chosen.policy.decide(command.action, command.targets, linked)
        if command.action is not None
        else None
    )
    print("\n".join(lines(chosen, ruled)))
    return 0
