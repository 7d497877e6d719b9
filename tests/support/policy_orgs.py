"""The test orgs with policy rules in acme (tests/support/orgs.py's file, plus a second admin,
break-glass and three rules): a hotline number refused, production apps needing two admins
and no break-glass, development apps needing one approval where delete otherwise needs two.
globex keeps no rules."""

from __future__ import annotations

from bot.core.models import Target
from tests.support.orgs import ORGS_YAML

__all__ = [
    "DEV_APP",
    "HOTLINE",
    "HOTLINE_SAYS",
    "LIMITS",
    "LINKED_RULES",
    "LINKED_SAYS",
    "PROD_APP",
    "RULES_YAML",
    "with_limits",
    "with_linked_rules",
    "with_rules",
]

HOTLINE_SAYS = "hotlines stay: open a change instead"
HOTLINE = Target("sfv_app_abc123xyz456", "+911800000001")
PROD_APP = "sfv_app_prod1"
DEV_APP = "sfv_app_dev1"

_ACME = "      self_approval: false\n    members:\n      U0ALICE: requester\n"
_RULES = f"""\
      self_approval: false
      break_glass: {{roles: [requester], require_incident: false}}
      rules:
        - name: hotlines
          action: unlink
          numbers: ['+911800*']
          deny: "{HOTLINE_SAYS}"
        - name: prod apps
          apps: ['sfv_app_prod*']
          approvals: 2
          approvers: [admin]
          break_glass: forbidden
        - name: dev apps
          action: delete
          apps: ['sfv_app_dev*']
          approvals: 1
    members:
      U0ERIN: admin
      U0ALICE: requester
"""


def with_rules(text: str) -> str:
    """An org file built on tests/support/orgs.py's (API clients added, say), acme ruled."""
    assert text.count(_ACME) == 1
    return text.replace(_ACME, _RULES)


RULES_YAML = with_rules(ORGS_YAML)


LIMITS = """\
      limits:
        - {name: bulk unlink, action: unlink, per: requester, targets: 20, within: 1h}
"""


def with_limits(text: str, limits: str = LIMITS) -> str:
    """acme's policy with `limits` (by default: 20 targets unlinked per requester per hour)."""
    anchor = "      ttl_minutes: 60\n      self_approval: false\n"
    assert text.count(anchor) == 1
    return text.replace(anchor, anchor + limits)


LINKED_SAYS = "apps with 10 or more numbers stay: open a change"
LINKED_RULES = f"""\
      rules:
        - name: crowded
          action: delete
          min_linked_numbers: 10
          deny: "{LINKED_SAYS}"
        - name: wired
          action: delete
          min_linked_numbers: 3
          approvals: 3
"""


def with_linked_rules(text: str) -> str:
    """acme deleting with 1 approval, and two rules on the numbers a delete would unlink: 10
    or more refused ('crowded'), 3 or more needing 3 approvals ('wired')."""
    anchor = "      ttl_minutes: 60\n      self_approval: false\n"
    assert text.count(anchor) == 1
    text = text.replace("      delete: {approvals: 2}\n", "      delete: {approvals: 1}\n", 1)
    return text.replace(anchor, anchor + LINKED_RULES)
