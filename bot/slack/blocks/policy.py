"""`/sfvopi policy`'s answer: the org's rules, or which applies to a would-be request and why
(lines from bot/core/workflow/explaining.py, escaped: rule names and deny messages are the
org file's text)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.blocks.text import Block, clip, escape, section

__all__ = ["LINES_SHOWN", "policy_answer"]

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
