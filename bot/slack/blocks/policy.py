"""`/sfvopi policy`'s answer: the org's rules, or which applies to a would-be request and why
(lines from bot/core/workflow/explaining.py, escaped: rule names and deny messages are the
org file's text)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.blocks.text import Block, clip, escape, section, user

__all__ = ["LINES_SHOWN", "Filled", "policy_answer", "requirements_line"]

Filled = tuple[str, int, Sequence[str]]
"""A requirement in words ("1 from members of S0NETOPS"), its count, and who filled it."""

LINES_SHOWN = 40


def policy_answer(lines: Sequence[str]) -> list[Block]:
    """A heading in bold, then a bullet a line (at most LINES_SHOWN, then how many more)."""
    head, rest = lines[0], list(lines[1:])
    more = f"… and {len(rest) - LINES_SHOWN} more" if len(rest) > LINES_SHOWN else ""
    bullets = "\n".join(f"• {escape(line)}" for line in rest[:LINES_SHOWN])
    shown = [section(f"*{escape(head)}*")]
    if bullets:
        shown.append(section(clip(bullets, tail=more)))
    return shown


def requirements_line(filled: Sequence[Filled], in_order: bool = False) -> str:
    """Each requirement a policy rule sets and who filled it, for the card; `in_order`: they
    are stages, numbered, the first not filled marked as the one that waits now and those
    after it as locked."""
    parts, waits = [], None
    for number, (text, needed, who) in enumerate(filled, start=1):
        done = ", ".join(user(u) for u in who) if who else "nobody yet"
        full = len(who) >= needed
        mark = ":white_check_mark:" if full else ":hourglass_flowing_sand:"
        if in_order and waits is not None:
            mark = ":lock:"
        elif in_order and not full:
            waits = number
            done += " (waits now)"
        parts.append((f"{number}. " if in_order else "") + f"{mark} {escape(text)}: {done}")
    if in_order:
        return "Requires, in order: " + " → ".join(parts)
    return "Requires " + " · ".join(parts)
