"""The workflow's tests share its Python API fixtures (tests/support/workflow.py)."""

from tests.support.workflow import *  # noqa: F403
