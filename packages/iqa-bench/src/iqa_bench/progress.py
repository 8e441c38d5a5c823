"""Progress bars for long steps (tqdm), usable as a Scorer ``progress`` callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm


class StepProgress:
    """One tqdm bar per step; ``callback`` feeds it from ``Scorer(progress=...)``."""

    def __init__(self, description: str, total: int | None, *, enabled: bool = True, **kwargs: Any) -> None:
        self.bar = tqdm(
            total=total, desc=description, unit="img", disable=not enabled, file=sys.stderr, leave=False, **kwargs
        )
        self._done = 0

    def callback(self, done: int, total: int | None) -> None:
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


ProgressFactory = Callable[[str, "int | None"], StepProgress]
