"""A small process-wide cache for work that draws its own progress on the page.

`st.cache_resource` records the elements a cached function draws, to replay them on a cache hit,
and refuses (CacheReplayClosureError) an element drawn on a block made outside the function, such
as a progress bar. `Memo` keeps results the same way (per process, least recently used first out,
exceptions not kept) and leaves drawing to the caller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Memo:
    """At most `size` values, and (given `weigh`) at most `capacity` of their total weight."""

    def __init__(self, size: int, weigh: Callable[[Any], int] | None = None, capacity: Callable[[], int] | None = None):
        self.size, self.weigh, self.capacity = size, weigh, capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value for `key`, computed (outside the lock, so other keys are not held up) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size or (len(self._items) > 1 and self._over_capacity()):
                self._items.popitem(last=False)
        return value

    def _over_capacity(self) -> bool:
        if self.weigh is None or self.capacity is None:
            return False
        return sum(self.weigh(v) for v in self._items.values()) > self.capacity()
