"""A registry of named plugin contributions with aliases and the plugin that owns each.

Calibration formats and exporters are both looked up by a name a user types (or an alias of
it), listed as choices in errors, and owned by one plugin each; this is that bookkeeping once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

__all__ = ["NamedRegistry"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...


T = TypeVar("T", bound=_Named)


class NamedRegistry(Generic[T]):
    """Items by name and alias, each with its owning plugin, in registration order.

    Args:
        kind: what an item is, for messages (``"calibration format"``, ``"exporter"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, tuple[T, str]] = {}
        self._aliases: dict[str, str] = {}

    # -- registration -------------------------------------------------------------------
    def check(self, item: T, plugin: str) -> None:
        """Raise :class:`ValueError` if ``item``'s name or an alias belongs to another plugin."""
        for key in (item.name, *item.aliases):
            owner = self._owner(key)
            if owner is not None and owner != plugin:
                raise ValueError(f"{self.kind} {key!r} is already registered by plugin {owner!r}")

    def add(self, item: T, plugin: str) -> None:
        self.check(item, plugin)
        self._items[item.name] = (item, plugin)
        for alias in item.aliases:
            self._aliases[alias] = item.name

    def _owner(self, key: str) -> str | None:
        name = self._aliases.get(key, key)
        return self._items[name][1] if name in self._items else None

    # -- lookup -------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names in registration order."""
        return list(self._items)

    def choices(self) -> list[str]:
        """Every name a user may type: names, then aliases."""
        return [*self._items, *self._aliases]

    def find(self, name: str) -> T | None:
        """The item called ``name`` or an alias of it (None: unknown)."""
        hit = self._items.get(self._aliases.get(name, name))
        return hit[0] if hit is not None else None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._aliases.get(key, key) in self._items

    def __iter__(self) -> Iterator[T]:
        return iter([item for item, _ in self._items.values()])

    def __len__(self) -> int:
        return len(self._items)

    def plugin_of(self, name: str) -> str:
        return self._items[self._aliases.get(name, name)][1]

    def with_plugins(self) -> list[tuple[T, str]]:
        """``(item, owning plugin)`` pairs in registration order."""
        return list(self._items.values())
