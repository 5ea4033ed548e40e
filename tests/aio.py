"""Running a coroutine from a synchronous test, whatever ran before it in the process."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` on a thread of its own. In the test process's main thread an event
    loop may be running already (Playwright's sync API, which the browser tests keep for the
    whole session, leaves one), and then `asyncio.run` refuses: a test passed or failed by the
    order the tests happened to run in."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
