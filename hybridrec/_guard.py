"""One writer at a time per object, without locks stored on the object.

``exclusive(owner, what)`` wraps an update (``fit``, ``fit_partial``, ...): a second
update of the same object from another thread while one runs raises ``RuntimeError``
at once (it is never queued behind a fit that may take hours); the updating thread may
nest updates. Reads need no guard when the object publishes its state atomically (as
``Recommender`` does): they see the state before or after an update, never a mix.

The bookkeeping lives in a module-level ``WeakKeyDictionary``, not on the instance, so
pickling, ``copy.deepcopy`` and ``get_params`` are unaffected.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

_LOCK = threading.Lock()
_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def exclusive(owner: object, what: str) -> Iterator[None]:
    """Run the block as the only update of ``owner`` (see the module docstring)."""
    me = threading.get_ident()
    with _LOCK:
        writer, depth = _WRITERS.get(owner, (None, 0))
        if writer is not None and writer != me:
            raise RuntimeError(
                f"{what}: another thread is already updating this {type(owner).__name__}; "
                "two updates of one object cannot run at once (reads may run meanwhile "
                "and see the state before the update).")
        _WRITERS[owner] = (me, depth + 1)
    try:
        yield
    finally:
        with _LOCK:
            writer, depth = _WRITERS[owner]
            if depth == 1:
                del _WRITERS[owner]
            else:
                _WRITERS[owner] = (writer, depth - 1)


def update(method: Callable) -> Callable:
    """Decorate a method that updates ``self``: it runs under ``exclusive``."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with exclusive(self, f"{type(self).__name__}.{method.__name__}"):
            return method(self, *args, **kwargs)
    return wrapper
