"""``iqa-bench submit`` / ``verify`` on a small demo grid (demo metric, I-FGSM, JPEG, randomized smoothing):
the submission records the shipped demo weights and the demo generator, every cell re-runs exactly on the
CPU, and the verified submission renders as a leaderboard page."""

from __future__ import annotations

import json

from iqa_bench.cli import main
from iqa_core import weights


def test_demo_submission_verifies_and_renders(tmp_path, capsys, demo_run):
    path = demo_run(
        "demo-small",
        datasets=[{"name": "demo", "kind": "demo", "limit": 2}],
        certifiers=[{"name": "rs", "presets": ["fast"], "images": 1, "params": {"n0": 8, "n": 32}}],
        chunk_size=2,
    )
    entry = tmp_path / "entry.json"
    assert main(["submit", str(path), "--out", str(entry)]) == 0

    envelope = json.loads(entry.read_text())
    record = next(w for w in envelope["provenance"]["weights"] if w["name"] == "demo-cnniqa")
    import iqa_metrics.demo as demo

    shipped = demo._package_data(demo.WEIGHTS_FILE)
    assert record["files"] == [
        {"file": "demo_cnniqa.pt", "sha256": weights.sha256_of(shipped), "recorded_sha256": None, "in_cache": False}
    ]
    assert record["state_sha256"] and record["tensors"] > 0
    assert all(w["state_sha256"] is None for w in envelope["provenance"]["weights"] if w["kind"] != "metric")
    dataset = envelope["provenance"]["datasets"]["demo"]
    assert dataset["basis"] == "demo generator" and dataset["images"] == 2 and dataset["generator"]["limit"] == 2
    assert {cell["unit"][0] for cell in envelope["cells"]} == {"clean", "non-adaptive", "adaptive", "certify"}

    capsys.readouterr()
    every = str(len(envelope["cells"]))
    board = tmp_path / "board"
    assert main(["verify", str(entry), "--sample", every, "--seed", "0", "--board", str(board)]) == 0
    out = capsys.readouterr().out
    assert f"VERIFIED: {every} of {every} sampled cells agree, 0 error(s)" in out
    assert "tolerance exact" in out and "certify demo/demo-cnniqa chunk 0: rs[fast]: agrees" in out
    page = (board / "leaderboard.html").read_text()
    assert "iqa-bench submission demo-small" in page and "jpeg" in page
    assert json.loads((board / "entries" / "jpeg.json").read_text()) == next(
        e for e in envelope["leaderboard"] if e["method"] == "jpeg"
    )
