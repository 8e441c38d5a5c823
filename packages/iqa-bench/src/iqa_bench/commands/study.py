"""``iqa-bench study prepare|serve|results``: a subjective study of a run's defences (docs/study.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="study_command", required=True)

    prepare = sub.add_parser("prepare", help="pick a run's images as stimuli; write the pairs and checks")
    prepare.add_argument("config", help="the run's YAML config (its store must hold the finished run)")
    prepare.add_argument("--out", required=True, help="the study folder to create (must not hold a study)")
    prepare.add_argument("--images", type=int, default=4, help="reference images to sample (default 4)")
    prepare.add_argument("--dataset", default=None, help="dataset of the config (default: its first)")
    prepare.add_argument("--metric", default=None, help="metric whose attacked images are shown (default: the first)")
    prepare.add_argument(
        "--attack", default=None, help="NAME or NAME[PRESET] of the config (default: the first attack, its last preset)"
    )
    prepare.add_argument(
        "--mode",
        choices=("non-adaptive", "adaptive", "clean"),
        default="non-adaptive",
        help="versions: x' and P(x') of the non-adaptive x' (default), P(x') of each defence's adaptive x' "
        "(plus the non-adaptive x' when the run has it), or P(x) of the clean images",
    )
    prepare.add_argument(
        "--presets",
        choices=("selected", "all"),
        default="selected",
        help="per defence, the preset the leaderboard selects (default) or every preset of the run",
    )
    prepare.add_argument("--trials", type=int, default=None, help="pairs per participant (default min(30, all))")
    prepare.add_argument("--checks", type=int, default=None, help="verification checks per participant")
    prepare.add_argument("--min-accuracy", type=float, default=0.8, help="QC: least share of checks right (0.8)")
    prepare.add_argument("--min-seconds", type=float, default=0.5, help="QC: faster answers are flagged (0.5 s)")
    prepare.add_argument(
        "--max-fast", type=float, default=0.25, help="QC: exclude a participant with more flagged answers (0.25)"
    )
    prepare.add_argument("--seed", type=int, default=0, help="seed of the image sample and ids (default 0)")
    prepare.add_argument("--device", default=None, help="recompute on this device (default: the config's)")
    prepare.set_defaults(handler=_prepare)

    serve = sub.add_parser("serve", help="serve the study page locally; votes go to STUDY_DIR/votes.sqlite")
    serve.add_argument("study", help="the study folder")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    serve.set_defaults(handler=_serve)

    results = sub.add_parser("results", help="QC, Bradley-Terry scores with intervals -> STUDY_DIR/results/")
    results.add_argument("study", help="the study folder")
    results.add_argument(
        "--resample",
        choices=("auto", "participants", "votes"),
        default="auto",
        help="bootstrap unit (auto: participants from 5 kept participants on, else votes)",
    )
    results.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    results.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    results.add_argument("--min-accuracy", type=float, default=None, help="override the study's QC threshold")
    results.add_argument("--min-seconds", type=float, default=None, help="override the study's too-fast limit")
    results.add_argument("--max-fast", type=float, default=None, help="override the study's too-fast share")
    results.set_defaults(handler=_results)


def main(args: argparse.Namespace) -> int:
    handler = args.handler
    return int(handler(args))


def _prepare(args: argparse.Namespace) -> int:
    from ..study.design import QCRule
    from ..study.stimuli import prepare_study

    study = prepare_study(
        args.config,
        args.out,
        images=args.images,
        dataset=args.dataset,
        metric=args.metric,
        attack=args.attack,
        mode=args.mode,
        presets=args.presets,
        trials_per_participant=args.trials,
        checks_per_participant=args.checks,
        qc=QCRule(args.min_accuracy, args.min_seconds, args.max_fast),
        seed=args.seed,
        device=args.device,
        say=_say,
    )
    print(f"study {study.name!r}: {len(study.groups)} images, {len(study.pairs)} pairs -> {args.out}")
    print(f"serve it: iqa-bench study serve {args.out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..study.server import StudyServer

    server = StudyServer(Path(args.study), host=args.host, port=args.port)
    print(f"study at {server.url} (Ctrl-C to stop); votes: {Path(args.study) / 'votes.sqlite'}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.close()
    return 0


def _results(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..study import VoteStore, compute_results, load_study, write_results
    from ..study.design import VOTES_FILE, StudyError

    study = load_study(args.study)
    votes_path = Path(args.study) / VOTES_FILE
    if not votes_path.is_file():
        raise StudyError(f"no votes yet at {votes_path}: serve the study (`iqa-bench study serve {args.study}`)")
    overrides = {
        name: value
        for name, value in (
            ("min_check_accuracy", args.min_accuracy),
            ("min_seconds", args.min_seconds),
            ("max_fast_fraction", args.max_fast),
        )
        if value is not None
    }
    rule = replace(study.qc, **overrides)
    with VoteStore(votes_path) as store:
        votes = store.votes()
    results = compute_results(
        study, votes, rule=rule, resample=args.resample, n_resamples=args.resamples, seed=args.seed
    )
    for path in write_results(results, args.study):
        print(path)
    data = results.to_dict()
    _say(
        f"{data['participants_kept']} of {data['participants_total']} participants kept, "
        f"{data['votes_counted']} votes counted"
    )
    for row in data["conditions"]:
        low, high = (f"{v:+.2f}" if v is not None else "?" for v in (row["bt_low"], row["bt_high"]))
        score = "n/a (no votes)" if row["bt_score"] is None else f"{row['bt_score']:+.2f} [{low}, {high}]"
        _say(f"  {row['condition']:<24} {score}  ({row['votes']} votes)")
    return 0
