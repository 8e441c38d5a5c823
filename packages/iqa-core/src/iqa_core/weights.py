"""One weight manager for every package: URL + sha256 + cache + local path, atomic downloads.

* Cache: ``$IQA_HOME/weights`` if set, else ``$TORCH_HOME/iqa/weights``, else
  ``~/.cache/torch/iqa/weights``.
* ``fetch(spec)`` returns a verified local file: the user's ``path`` if given, the cached copy if
  its sha256 matches, else a fresh download (streamed to a temporary file in the cache folder,
  hashed on the fly, renamed into place only when the hash matches - an interrupt never leaves
  a half file under the final name).
* Offline (``IQA_OFFLINE=1``, or ``HF_HUB_OFFLINE=1``) no download is attempted: the error says
  where to put the file and which command prefetches it on a machine with internet.
* Files without a published hash (``sha256=None``) are trusted on first use: the hash they had when
  they entered the cache (download, :func:`copy_into_cache`, or the first use of a file placed there
  by hand) is written beside them as ``<file>.sha256``, and every later use is checked against that
  record (:func:`check_recorded`). A cache file that changed since is never loaded: the error names
  the file, both hashes and how to re-record a copy one trusts.
* Every package with weights exposes them on its own command line (``iqa-purify download NAME``,
  ``iqa-attacks download NAME``, ...) through :func:`add_download_command`; a spec names that
  command line (``cli``), so hints never point at a package that may not be installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

CHUNK = 1 << 20


class WeightsNotFoundError(FileNotFoundError):
    """Weights are neither cached nor downloadable (offline, or the download failed)."""


class CorruptWeightsError(UserError, ValueError):
    """A weights file holds NaN or infinite values."""


class ChecksumError(UserError, ValueError):
    """A file's sha256 does not match the expected one."""


@dataclass(frozen=True)
class WeightSpec:
    """Where a checkpoint comes from. ``sha256`` may be a prefix (at least 8 hex digits).

    ``sha256=None`` means no hash was ever published for the file: it is downloaded once and
    trusted on first use; the hash it had is written beside it (``<file>.sha256``) and every
    later use is checked against that record, so a silently changed cache file is caught.
    ``sha256=""`` means there is no direct download to check (a share page): the user passes the
    file (``weights=PATH``). ``cli`` is the console script whose ``download`` sub-command fetches
    the file (the package declaring the spec), named in the hints.
    """

    name: str
    url: str
    sha256: str | None
    filename: str | None = None
    cli: str | None = None

    @property
    def file_name(self) -> str:
        return self.filename or self.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


def cache_dir() -> Path:
    """The weights cache folder (created on demand by :func:`fetch`)."""
    if os.environ.get("IQA_HOME"):
        return Path(os.environ["IQA_HOME"]).expanduser() / "weights"
    torch_home = os.environ.get("TORCH_HOME")
    base = Path(torch_home).expanduser() if torch_home else Path.home() / ".cache" / "torch"
    return base / "iqa" / "weights"


def offline() -> bool:
    """True when downloads are disabled by ``IQA_OFFLINE`` or ``HF_HUB_OFFLINE``."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("IQA_OFFLINE", "HF_HUB_OFFLINE"))


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(actual: str, expected: str) -> bool:
    expected = expected.lower()
    return len(expected) >= 8 and actual.startswith(expected)


def verify(path: str | os.PathLike[str], sha256: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` hashes to ``sha256`` (prefix allowed)."""
    actual = sha256_of(path)
    if not _matches(actual, sha256):
        raise ChecksumError(
            f"{path}: sha256 {actual} does not match the expected {sha256}; delete it and download again"
        )


def _recorded(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def check_recorded(spec: WeightSpec, target: str | os.PathLike[str], *, replace_hint: str | None = None) -> Path:
    """Trust on first use for a cached file without a published sha256; verify it on every later use.

    No ``<file>.sha256`` record yet: the file's hash is recorded (first use) and the file returned.
    A record: the file must still hash to it, else :class:`ChecksumError` naming the file, the
    recorded and the current hash, and what to do (``replace_hint`` or a generic instruction).
    """
    target = Path(target)
    actual = sha256_of(target)
    record = _recorded(target)
    if not record.is_file():
        record.write_text(actual + "\n")
        print(
            f"{target}: no published sha256 for {spec.name!r}; trusting this file on first use and recording "
            f"its sha256 {actual} in {record}",
            file=sys.stderr,
        )
        return target
    expected = record.read_text().strip()
    if not _matches(actual, expected):
        hint = replace_hint or (
            f"delete {target} and {record} and fetch the file again; if you replaced it on purpose with a copy "
            f"you trust, delete {record} so that its hash is recorded again"
        )
        raise ChecksumError(
            f"weights for {spec.name!r} at {target} changed since they were first used: sha256 is now {actual}, "
            f"recorded {expected} (in {record}). The file is not loaded. To fix: {hint}"
        )
    return target


def _download(url: str, target: Path, sha256: str | None, progress: bool) -> None:
    import urllib.request  # (imported when needed: it pulls in http, ssl and email, slow for a CLI's --help)

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    pct = f"{100 * done / total:5.1f}%" if total else f"{done / 1e6:.1f} MB"
                    print(f"\rdownloading {target.name}: {pct}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        if sha256 is None:
            _recorded(target).write_text(digest.hexdigest() + "\n")
            print(f"{target.name}: no published sha256; recorded {digest.hexdigest()}", file=sys.stderr)
        elif not _matches(digest.hexdigest(), sha256):
            raise ChecksumError(
                f"download of {url} has sha256 {digest.hexdigest()}, expected {sha256}; "
                "the file was discarded (a changed upstream file or a broken transfer)"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch(
    spec: WeightSpec, *, path: str | os.PathLike[str] | None = None, progress: bool = True, check: bool = True
) -> Path:
    """Return a local, verified file for ``spec`` (see the module docstring).

    ``path`` overrides the download: it is used as is (verified against ``spec.sha256`` only when
    ``check`` is true, so fine-tuned checkpoints of the same architecture load with ``check=False``).
    """
    if path is not None:
        local = Path(path).expanduser()
        if not local.is_file():
            raise WeightsNotFoundError(f"weights for {spec.name!r} not found at {local}; pass an existing file")
        if check and spec.sha256 is not None:
            verify(local, spec.sha256)
        return local
    target = cache_dir() / spec.file_name
    if target.is_file():
        if spec.sha256 is None:  # no published hash: trust on first use, then the record decides
            return check_recorded(spec, target)
        if _matches(sha256_of(target), spec.sha256):
            return target
        target.unlink()  # stale or corrupt cache entry: download again (the published hash decides)
    if offline():
        how = f"run `{spec.cli} download {spec.name}` (or fetch {spec.url})" if spec.cli else f"fetch {spec.url}"
        raise WeightsNotFoundError(
            f"weights for {spec.name!r} are not cached at {target} and downloads are disabled "
            f"(IQA_OFFLINE/HF_HUB_OFFLINE). On a machine with internet {how} and copy the file to {target}, "
            "or pass weights=PATH"
        )
    try:
        _download(spec.url, target, spec.sha256, progress)
    except OSError as error:  # urllib.error.URLError and TimeoutError are OSErrors
        if isinstance(error, ChecksumError):
            raise
        raise WeightsNotFoundError(
            f"could not download weights for {spec.name!r} from {spec.url}: {error}. "
            f"Download the file by other means and place it at {target}, or pass weights=PATH"
        ) from error
    return target


def non_finite_tensors(obj: Any, prefix: str = "") -> list[str]:
    """Keys (dotted paths) of floating tensors in ``obj`` (nested dicts / lists) holding NaN or infinity."""
    import torch

    found: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, obj)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, torch.Tensor):
            if item.is_floating_point() and not bool(torch.isfinite(item).all()):
                found.append(key or "<tensor>")
        elif isinstance(item, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{key}[{i}]", v) for i, v in enumerate(item))
    return sorted(found)


def load_checkpoint(
    path: str | os.PathLike[str], *, weights_only: bool = True, map_location: Any = "cpu", check_finite: bool = True
) -> Any:
    """``torch.load`` with ``weights_only=True`` by default and an error that names the file.

    With ``check_finite`` (default) a checkpoint whose floating tensors hold NaN or infinity is
    refused, naming the first keys: such weights would score every image as NaN, or worse,
    plausibly.
    """
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as error:
        raise ValueError(f"cannot load checkpoint {path}: {error}") from error
    if check_finite:
        bad = non_finite_tensors(state)
        if bad:
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise CorruptWeightsError(
                f"checkpoint {path} holds NaN or infinite values in {shown}; the file is damaged or was "
                "saved from a diverged training run: download it again or pass another weights file"
            )
    return state


def copy_into_cache(spec: WeightSpec, source: str | os.PathLike[str]) -> Path:
    """Verify ``source`` against ``spec`` and copy it into the cache (for offline machines).

    Without a published hash, the copied file's hash is recorded as for a first download (this is
    the explicit way to replace a cached file and its record with a copy one trusts). The copy is
    atomic; ``source`` may be the cached file itself (its hash is then recorded again).
    """
    if spec.sha256 is not None:
        verify(source, spec.sha256)
    target = cache_dir() / spec.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and os.path.samefile(source, target)):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(source, tmp_name)
            os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
    if spec.sha256 is None:
        _recorded(target).write_text(sha256_of(target) + "\n")
    return target


def _cached(spec: WeightSpec) -> bool:
    return (cache_dir() / spec.file_name).is_file()


def download(spec: WeightSpec, source: str | os.PathLike[str] | None = None, *, prog: str = "iqa") -> Path:
    """Put ``spec``'s file in the cache: downloaded and checked, or ``source`` checked and copied.

    A spec without a direct download (``sha256=""``) cannot be cached: the error says where to get
    the file and that components take it as ``weights=PATH``.
    """
    if spec.sha256 == "":
        raise UserError(
            f"{spec.name}: the official file has no direct, checksummed download, so it is not cached: get "
            f"{spec.file_name} from {spec.url} and pass it to the component as weights=PATH"
        )
    if source is not None:
        target = copy_into_cache(spec, source)
        print(f"{spec.name}: copied {source} to {target} (sha256 {sha256_of(target)})", file=sys.stderr)
        return target
    try:
        return fetch(spec)
    except WeightsNotFoundError as error:
        raise UserError(f"{prog} download {spec.name}: {error}") from error


def download_command(args: argparse.Namespace, specs: Mapping[str, WeightSpec], prog: str) -> int:
    """The handler of ``<prog> download`` (see :func:`add_download_command`)."""
    if args.list or not args.names:
        for name, spec in sorted(specs.items()):
            state = (
                "cached"
                if _cached(spec)
                else ("not cached" if spec.sha256 != "" else "no direct download (pass weights=PATH)")
            )
            print(f"{name:<34} {state:<38} {spec.url}")
        if not args.names and not args.list:
            print(f"\n{prog} download NAME ... fetches them into {cache_dir()}", file=sys.stderr)
        return 0
    if args.source is not None and len(args.names) != 1:
        raise UserError("--from takes exactly one NAME")
    for name in args.names:
        key = name.strip().lower()
        if key not in specs:
            raise UserError(f"{prog} has no weights named {name!r}; its weights: {', '.join(sorted(specs))}")
        print(f"{key}: {download(specs[key], args.source, prog=prog)}")
    return 0


def add_download_command(
    subparsers: Any, specs: Callable[[], Mapping[str, WeightSpec]], *, prog: str
) -> argparse.ArgumentParser:
    """Add ``download NAME... [--from FILE] [--list]`` to a package's command line.

    ``specs`` returns the package's weights by name; it is called only when the command runs, so
    building the parser (``--help``) imports nothing heavy.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "download",
        help="prefetch weights into the cache (for offline machines); without NAME, list them",
        description=f"Fetch weights of {prog} into {cache_dir()} (checked against their sha256), "
        "or copy a local file there with --from.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="weights to fetch (default: list them)")
    parser.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="a local copy of the file (one NAME): checked and copied into the cache",
    )
    parser.add_argument("--list", action="store_true", help="list the weights, whether each is cached, and its URL")
    parser.set_defaults(handler=lambda args: download_command(args, specs(), prog))
    return parser
