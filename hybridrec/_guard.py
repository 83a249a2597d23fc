r"""Reads and updates of one object from several threads, without locks on the object.

Two policies, both keeping their bookkeeping in module-level ``WeakKeyDictionary``\ s
(never on the instance, so pickling, ``copy.deepcopy`` and ``get_params`` are unaffected):

- ``exclusive`` / ``update`` (``Recommender``): one update at a time; a second update
  from another thread raises ``RuntimeError`` at once (never queued behind a fit that may
  take hours). Reads need no guard there: the object publishes its state atomically.
- ``reading`` / ``writing`` (``LightFM``, which trains its arrays in place): reads run
  concurrently; an update waits for the reads already running (they are short), then
  publishes a copy of the state as it was (``publish``) and trains; a read that starts
  meanwhile is answered from that copy, as if the update had not started, and the new
  state becomes visible when the update returns (a read never sees a mix). A second
  concurrent update is refused. The updating thread itself reads the live state.
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


# ------------------------------------------------------ reads beside in-place updates
_CONDITION = threading.Condition()
_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_VIEWS = threading.local()


def _state(owner: object) -> dict:
    state = _STATES.get(owner)
    if state is None:
        state = _STATES[owner] = {"writer": None, "depth": 0, "training": False,
                                  "readers": {}, "published": None, "private": False}
    return state


def current_view(owner: Any) -> Any:
    """What this thread's read of ``owner`` reads from: the copy an update in another
    thread published, or ``owner`` itself."""
    views = getattr(_VIEWS, "views", None)
    if views:
        view = views.get(id(owner))
        if view is not None and view[0] is owner:
            return view[1]
    return owner


@contextlib.contextmanager
def reading(owner: object, what: str, unpublished: Callable[[], Exception]
            ) -> Iterator[Any]:
    """A read of ``owner``; yields the object to read from (see the module docstring).

    ``unpublished()`` makes the exception raised when another thread updates ``owner``
    and there was no state to publish (it was not fitted yet).
    """
    views = getattr(_VIEWS, "views", None)
    if views is None:
        views = _VIEWS.views = {}
    outer = views.get(id(owner))
    if outer is not None and outer[0] is owner:
        # Inside another read of the same object (one public call reading through
        # others): keep its view, so one call never mixes two states.
        yield outer[1]
        return
    me = threading.get_ident()
    with _CONDITION:
        state = _state(owner)
        live = not state["training"] or state["writer"] == me
        if live:  # a read of the live arrays: an update waits for it to finish
            state["readers"][me] = state["readers"].get(me, 0) + 1
        elif state["published"] is None:
            raise unpublished()
        view = owner if live else state["published"]
    views[id(owner)] = (owner, view)
    try:
        yield view
    finally:
        views.pop(id(owner), None)
        if live:
            with _CONDITION:
                count = state["readers"][me] - 1
                if count:
                    state["readers"][me] = count
                else:
                    del state["readers"][me]
                _CONDITION.notify_all()


@contextlib.contextmanager
def writing(owner: object, what: str, publish: Callable[[], Any]) -> Iterator[None]:
    """An in-place update of ``owner``. ``publish()`` returns the read-only copy reads
    of other threads use meanwhile (or None when there is nothing to read yet); it is
    not called for objects marked ``private``. Reads that start while the copy is made
    read the live arrays (nobody writes them yet); the update then waits for them."""
    me = threading.get_ident()
    with _CONDITION:
        state = _state(owner)
        if state["writer"] == me:
            state["depth"] += 1
            nested = True
        elif state["writer"] is not None:
            raise RuntimeError(
                f"{what}: another thread is already fitting this {type(owner).__name__}; "
                "two fits of one object cannot run at once (reads may run meanwhile: they "
                "see the state from before the fit).")
        else:
            nested = False
            state["writer"], state["depth"] = me, 1   # reserved: other fits are refused
            private_copy = state["private"]
    if not nested:
        try:
            published = None if private_copy else publish()
            with _CONDITION:
                state["published"], state["training"] = published, True
                while any(thread != me for thread in state["readers"]):
                    _CONDITION.wait()
        except BaseException:
            with _CONDITION:
                state.update(writer=None, depth=0, training=False, published=None)
                _CONDITION.notify_all()
            raise
    try:
        yield
    finally:
        with _CONDITION:
            state["depth"] -= 1
            if state["depth"] == 0:
                state.update(writer=None, training=False, published=None)
                _CONDITION.notify_all()


def published_before_update(owner: object) -> Any:
    """The copy published by the update of ``owner`` this thread is running, when that
    update is the outermost one (nothing else of it ran since the copy was made): the
    state from before the update, which the update may use as its own rollback copy
    (read only). None otherwise (no update, a nested one, a private object, or nothing
    to publish)."""
    me = threading.get_ident()
    with _CONDITION:
        state = _STATES.get(owner)
        if state is None or state["writer"] != me or state["depth"] != 1:
            return None
        return state["published"]


@contextlib.contextmanager
def private(owner: object) -> Iterator[None]:
    """Mark ``owner`` as visible to this thread only (e.g. a copy being trained before
    it is published): its updates publish nothing."""
    with _CONDITION:
        state = _state(owner)
        previous, state["private"] = state["private"], True
    try:
        yield
    finally:
        with _CONDITION:
            state["private"] = previous
