"""The organization file's YAML, read with the line of every key and its duplicates, which plain
YAML drops: every problem found later names its line."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

__all__ = ["Loader", "Map"]


class Map(dict[Any, Any]):
    """A YAML mapping that remembers where it (its key, if nested) and its keys were written."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class Loader(yaml.SafeLoader):
    """SafeLoader that records line numbers and duplicate keys, which plain YAML drops."""


def _construct_map(loader: Loader, node: yaml.MappingNode) -> Map:
    loader.flatten_mapping(node)
    mapping = Map(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            key = str(key)
        if key in mapping:
            mapping.duplicates.append((key, line))
            continue
        value = loader.construct_object(value_node, deep=True)
        if isinstance(value, Map):
            value.line = line
        mapping[key] = value
        mapping.key_lines[key] = line
    return mapping


Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
