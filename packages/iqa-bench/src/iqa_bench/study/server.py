"""``iqa-bench study serve``: the study's web page and its JSON API on Python's own HTTP server.

Routes (every API request and answer is JSON; errors are ``{"error": message}`` with a 4xx status):

* ``GET /``: the page; ``GET /static/study.js|study.css``; ``GET /stimuli/<id>.png`` (only the
  study's own stimuli);
* ``POST /api/participants`` ``{}`` -> ``201 {"participant": id, "trials": n}``: a new participant
  and their trials (:meth:`iqa_bench.study.design.Study.assign`);
* ``POST /api/next`` ``{"participant": id}`` -> the first unanswered trial (reference, left and
  right image URLs, position, total) or ``{"done": true}``; serving a trial starts its clock;
* ``POST /api/votes`` ``{"participant": id, "position": n, "choice": "left"|"right", "ms": t}``:
  one vote; an unknown participant or trial is 404, a replayed or not-yet-served trial 409, a
  malformed body 400, a body that is not JSON 415, a body over 4 KiB 413.

The page loads nothing from outside (a Content-Security-Policy allows only this server).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .design import STIMULI_DIR, VOTES_FILE, Study, load_study
from .store import VoteError, VoteStore

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MAX_BODY = 4096
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STIMULUS_PATH = re.compile(r"/stimuli/(s[0-9a-f]{12})\.png")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: Mapping[str, Any]) -> Response:
        return cls(status, json.dumps(payload).encode("utf-8"))

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json(status, {"error": message})


class StudyApp:
    """The study's routes, independent of the HTTP plumbing (see the module docstring)."""

    def __init__(self, folder: str | Path, study: Study | None = None, store: VoteStore | None = None) -> None:
        self.folder = Path(folder)
        self.study = study or load_study(self.folder)
        self.store = store or VoteStore(self.folder / VOTES_FILE)
        env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
        page = env.get_template("study.html.j2").render(
            title=self.study.name,
            instruction=self.study.instruction,
            trials=self.study.trials_per_participant + self.study.checks_per_participant,
        )
        self.static = {
            "/": Response(200, page.encode("utf-8"), "text/html; charset=utf-8"),
            "/static/study.js": Response(200, (TEMPLATES / "study.js").read_bytes(), "text/javascript; charset=utf-8"),
            "/static/study.css": Response(200, (TEMPLATES / "study.css").read_bytes(), "text/css; charset=utf-8"),
        }

    def get(self, path: str) -> Response:
        if path in self.static:
            return self.static[path]
        match = STIMULUS_PATH.fullmatch(path)
        if match and match.group(1) in self.study.stimuli:
            name = self.study.stimuli[match.group(1)]
            return Response(200, (self.folder / STIMULI_DIR / name).read_bytes(), "image/png")
        return Response.error(404, f"no page {path!r} here; the study is at /")

    def post(self, path: str, body: Any) -> Response:
        if path == "/api/participants":
            user_agent = body.get("user_agent") if isinstance(body.get("user_agent"), str) else None
            participant, trials = self.store.create_participant(self.study.assign, user_agent=user_agent)
            log.info("participant %s: %d trials", participant, trials)
            return Response.json(201, {"participant": participant, "trials": trials})
        if path == "/api/next":
            step = self.store.next_trial(body.get("participant"))
            if step is None:
                return Response.json(200, {"done": True})
            position, total, trial = step
            return Response.json(
                200,
                {
                    "done": False,
                    "position": position,
                    "total": total,
                    "reference": f"/stimuli/{trial.reference}.png",
                    "left": f"/stimuli/{trial.left}.png",
                    "right": f"/stimuli/{trial.right}.png",
                },
            )
        if path == "/api/votes":
            unknown = sorted(set(body) - {"participant", "position", "choice", "ms"})
            if unknown:
                return Response.error(400, f"unknown fields {unknown}; a vote has participant, position, choice, ms")
            seconds = self.store.record_vote(
                body.get("participant"), body.get("position"), body.get("choice"), body.get("ms")
            )
            return Response.json(200, {"recorded": True, "seconds": seconds})
        return Response.error(404, f"no API {path!r}; POST /api/participants, /api/next or /api/votes")


def parse_body(headers: Mapping[str, str], raw: bytes | None) -> dict[str, Any] | Response:
    """The JSON object of a POST, or the 4xx response explaining what is wrong with it."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return Response.error(415, f"send JSON (Content-Type: application/json), got {content_type or 'none'!r}")
    if raw is None:
        return Response.error(411, "a Content-Length header is required")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return Response.error(400, f"malformed JSON: {error}")
    if not isinstance(body, dict):
        return Response.error(400, f"the body must be a JSON object, got {type(body).__name__}")
    return body


def make_handler(app: StudyApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "iqa-bench-study"
        sys_version = ""

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header(
                "Cache-Control", "no-store" if response.content_type.startswith("application/json") else "max-age=60"
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def do_GET(self) -> None:
            self._send(app.get(urlsplit(self.path).path))

        def do_HEAD(self) -> None:
            self._send(app.get(urlsplit(self.path).path))

        def do_POST(self) -> None:
            length_text = self.headers.get("Content-Length")
            try:
                length = None if length_text is None else int(length_text)
            except ValueError:
                self._send(Response.error(400, f"bad Content-Length {length_text!r}"))
                return
            if length is not None and not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._send(Response.error(413, f"request body over {MAX_BODY} bytes"))
                return
            raw = None if length is None else self.rfile.read(length)
            body = parse_body(dict(self.headers.items()), raw)
            if isinstance(body, Response):
                self._send(body)
                return
            try:
                response = app.post(urlsplit(self.path).path, body)
            except VoteError as error:
                response = Response.error(error.status, str(error))
            self._send(response)

        def _refuse(self) -> None:
            self._send(Response.error(405, f"method {self.command} not allowed; use GET for pages, POST for /api/*"))

        do_PUT = do_DELETE = do_PATCH = _refuse

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


class StudyServer:
    """The study served on ``host:port`` (port 0: any free port) in a background thread or the foreground."""

    def __init__(self, folder: str | Path, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.app = StudyApp(folder)
        self.httpd = ThreadingHTTPServer((host, port), make_handler(self.app))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}/"

    def start(self) -> StudyServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="study-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()
        self.app.store.close()

    def __enter__(self) -> StudyServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
