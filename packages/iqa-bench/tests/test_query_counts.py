"""Black-box attacks' query counts: recorded per image in the rows, kept in the adversarial cache,
shown on the attacks board and in its JSON entries."""

from __future__ import annotations

from typing import Any

import torch
from _grids import run_grid, toy_grid

from iqa_bench.config import parse_config
from iqa_bench.leaderboard.boards import attack_board
from iqa_bench.store import ResultStore
from iqa_core import registry
from iqa_core.testing import ToySignAttack
from iqa_core.types import Threat


class ToyQueryAttack(ToySignAttack):
    """A "black-box" toy: random signs; image k of a batch spends 10 + brightness-dependent queries."""

    name = "toy-query"
    threat = Threat.BLACK_BOX

    def __call__(self, metric: Any, images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randint(0, 2, images.shape, generator=generator, device=images.device).float() * 2 - 1
        self.last_queries = 10 + (images.mean(dim=(1, 2, 3)) * 100).round().long().cpu()
        return (images + self.eps * noise).clamp(0, 1)


def _config(tmp_path, folder, store: str, cache: str):
    registry.register("attack", "toy-query", ToyQueryAttack, replace=True)
    return parse_config(
        toy_grid(
            tmp_path,
            folder,
            attacks=[{"name": "toy-query", "presets": ["weak"]}, {"name": "toy-sign", "presets": ["weak"]}],
            defences=[{"name": "toy-blur", "presets": ["k3"]}],
            store=str(tmp_path / store / "results.sqlite"),
            cache=str(tmp_path / cache),
        )
    )


def _expected(folder) -> dict[str, float]:
    from iqa_core.images import load_image

    out = {}
    for path in sorted(folder.glob("*.png")):
        try:
            image = load_image(path)
        except Exception:  # noqa: BLE001 - the fixture's unreadable file
            continue
        out[path.name] = float(10 + (image.mean() * 100).round())
    return out


def test_query_counts_reach_the_rows_survive_the_cache_and_the_attacks_board(tmp_path, image_folder, toy_plugins):
    _, rows = run_grid(_config(tmp_path, image_folder, "first", "cache"))
    done = [r for r in rows if r["status"] == "done" and r["attack"] != "none"]
    by_attack = {a: [r for r in done if r["attack"] == a] for a in ("toy-query", "toy-sign")}
    assert by_attack["toy-sign"] and all(r["queries"] is None for r in by_attack["toy-sign"])
    expected = _expected(image_folder)
    assert by_attack["toy-query"]
    for row in by_attack["toy-query"]:  # every row of the image, defended or not, both modes
        assert row["queries"] == expected[row["image"].split("/")[-1]]

    # a second store over the same cache: no attack runs again, the counts come from the cache
    again, rows_again = run_grid(_config(tmp_path, image_folder, "second", "cache"))
    assert again.work.get("attack", 0) == 0 and again.work.get("attack_reused", 0) > 0

    def spent(some):
        return {(r["image"], r["mode"], r["defence"]): r["queries"] for r in some if r["status"] == "done"}

    assert spent(r for r in rows_again if r["attack"] == "toy-query") == spent(by_attack["toy-query"])

    with ResultStore(tmp_path / "first" / "results.sqlite") as store:
        board = attack_board(list(store.results()), store.bounds(), directions=store.directions(), n_resamples=50)
    mean = sum(r["queries"] for r in by_attack["toy-query"] if r["mode"] == "non-adaptive" and r["defence"] == "none")
    count = sum(1 for r in by_attack["toy-query"] if r["mode"] == "non-adaptive" and r["defence"] == "none")
    assert board.info["toy-query@weak"]["queries"] == mean / count
    assert board.info["toy-sign@weak"]["queries"] is None
    entries = {e["method"]: e for e in board.entries()}
    assert entries["toy-query@weak"]["queries"] == mean / count
    table = board.table("board-attacks", "Attacks")
    assert any(c.key == "queries" and c.numeric for c in table.columns)
