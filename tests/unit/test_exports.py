"""`bot` exports the Python API, and `bot.errors` is the one tree every error hangs from."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import bot
import bot.errors


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(bot.__path__, prefix="bot.")
        if not info.name.startswith(("bot.sandbox", "bot.store.migrations"))
        and info.name != "bot.__main__"
    ]


def test_every_exported_name_resolves_and_the_list_is_curated() -> None:
    assert bot.__all__ == sorted(bot.__all__)
    assert len(set(bot.__all__)) == len(bot.__all__)
    for name in bot.__all__:
        assert getattr(bot, name) is not None, name
    with pytest.raises(AttributeError):
        _ = bot.NoSuchThing  # type: ignore[attr-defined]


def test_the_api_a_python_caller_needs_is_exported() -> None:
    needed = {"open_workflow", "Workflow", "Settings", "Target", "Action", "Status", "Request"}
    assert needed <= set(bot.__all__)
    assert set(bot.errors.__all__) <= set(bot.__all__)


def test_every_error_class_is_in_the_tree_and_in_its_docstring() -> None:
    defined = {
        name
        for name, value in vars(bot.errors).items()
        if inspect.isclass(value) and issubclass(value, Exception)
    }
    assert defined == set(bot.errors.__all__)
    doc = bot.errors.__doc__ or ""
    for name in defined:
        assert issubclass(getattr(bot.errors, name), bot.errors.BotError), name
        assert re.search(rf"(^|\s){name}(\s|$)", doc, re.M), f"{name} is missing from the tree"


def test_refusals_carry_a_message_fit_to_show() -> None:
    refusal = bot.errors.NotAllowed("you are a viewer in acme")
    assert refusal.message == str(refusal) == "you are a viewer in acme"
    assert isinstance(refusal, bot.errors.Refusal)
    problems = bot.errors.OrgFileError(["orgs.yml:3: bad", "orgs.yml:9: worse"])
    assert problems.message == "orgs.yml:3: bad\norgs.yml:9: worse"


def test_every_exception_class_of_the_product_lives_in_the_tree() -> None:
    seen: dict[str, str] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for cls_name, value in vars(module).items():
            if not (inspect.isclass(value) and issubclass(value, BaseException)):
                continue
            if not value.__module__.startswith("bot."):
                continue
            where = f"{value.__module__}.{value.__qualname__}"
            assert seen.setdefault(cls_name, where) == where, (cls_name, seen[cls_name], where)
    assert all(where.startswith("bot.errors.") for where in seen.values()), seen
