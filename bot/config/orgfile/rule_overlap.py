"""Rules that can never select anything: selectors that exclude one another, and rules an
earlier rule covers whole (first match wins, so the later one is dead). Sure answers only: a
rule covered by several earlier ones together, or by patterns too intricate to compare, is
not reported."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bot.core.models import Action
from bot.core.policy import Rule, glob_within

__all__ = ["never_selects"]


def never_selects(rules: Sequence[Rule]) -> Iterator[tuple[int, str]]:
    """(line, message) for each rule that can never select a target."""
    for rule in rules:
        why = _contradiction(rule)
        if why is not None:
            yield rule.line, f"{rule.label} can never select anything: {why}"
            continue
        cover = next(
            (earlier for earlier in rules[: rule.index - 1] if covers(earlier, rule)), None
        )
        if cover is not None:
            yield (
                rule.line,
                f"{rule.label} can never select anything: {cover.label} (line {cover.line}) "
                "comes first and selects everything it does; move it above, or narrow the "
                "earlier one",
            )


def _contradiction(rule: Rule) -> str | None:
    actions = rule.actions or frozenset(Action)
    if rule.numbers is not None and Action.UNLINK not in actions:
        return "it names numbers, but only unlink targets have one"
    if rule.needs_linked and Action.DELETE not in actions:
        return "it bounds linked numbers, which only a delete has"
    for low, high, what in (
        (rule.min_targets, rule.max_targets, "targets"),
        (rule.min_linked_numbers, rule.max_linked_numbers, "linked_numbers"),
    ):
        if low is not None and high is not None and low > high:
            return f"min_{what} ({low}) is more than max_{what} ({high})"
    return None


def covers(outer: Rule, inner: Rule) -> bool:
    """Whether `outer` surely selects every target `inner` selects."""
    if outer.actions and not (inner.actions and inner.actions <= outer.actions):
        return False
    for mine, theirs in ((outer.apps, inner.apps), (outer.numbers, inner.numbers)):
        if mine is not None and (
            theirs is None or not all(any(glob_within(t, m) for m in mine) for t in theirs)
        ):
            return False
    if not _interval_within(
        (inner.min_targets or 1, inner.max_targets), (outer.min_targets, outer.max_targets)
    ):
        return False
    if outer.needs_linked:
        return inner.needs_linked and _interval_within(
            (inner.min_linked_numbers or 0, inner.max_linked_numbers),
            (outer.min_linked_numbers, outer.max_linked_numbers),
        )
    return True


def _interval_within(
    inner: tuple[int | None, int | None], outer: tuple[int | None, int | None]
) -> bool:
    low_in, high_in = inner
    low_out, high_out = outer
    low_ok = low_out is None or (low_in is not None and low_in >= low_out)
    high_ok = high_out is None or (high_in is not None and high_in <= high_out)
    return low_ok and high_ok
