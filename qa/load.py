"""Load test: several answering processes over one index, many clients at once.

    python -m qa.load run --index milvus://127.0.0.1:19530 --reference .index \\
        --questions ../shared/eval/dev_questions.jsonl --processes 1 2 --clients 20 --seconds 60

For each process count it starts that many answering processes (``python -m qa.load
serve``: the index and the model opened once, questions answered over HTTP on a
loopback port, as app processes behind a reverse proxy), then ``--clients`` client
threads ask questions for ``--seconds``, spreading requests over the processes in
turn as the proxy would. Every answer is checked against the ``--reference`` index
(the embedded engine over the same corpus): the same decision and the same passages
in the same order. Prints one JSON object per process count: answers a second,
latency p50 and p95 (ms), and answers that differed from the reference.

Kept apart from the answering path: nothing here is imported by ``ask``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["main"]


def _settings(index: str):
    from index.location import is_uri

    from .config import Settings

    base = Settings.from_env()
    return replace(base, index_uri=index) if is_uri(index) else replace(base, index_dir=Path(index), index_uri="")


def serve(index: str, port: int) -> None:
    """Answer ``GET /ask?q=QUESTION`` with the ``ask --json`` object, on 127.0.0.1:``port``."""
    from .service import open_answerer

    from .answer import Answerer

    settings = _settings(index)
    current = {"answerer": open_answerer(settings)}
    current["answerer"].ask("warm up")

    def follow() -> None:
        """Between questions, take up what ingests published (as the app does)."""
        while True:
            time.sleep(2.0)
            answerer = current["answerer"]
            refreshed = getattr(answerer.index, "refreshed", None)
            if refreshed is not None and (index_now := refreshed()) is not answerer.index:
                current["answerer"] = Answerer(index_now, answerer.embedder, corpus_wording=settings.corpus_wording)

    threading.Thread(target=follow, daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            body = json.dumps(current["answerer"].ask(query.get("q", [""])[0]).to_dict()).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"ready {port}", flush=True)
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(index: str, count: int) -> tuple[list[subprocess.Popen], list[int]]:
    processes, ports = [], []
    for _ in range(count):
        port = _free_port()
        process = subprocess.Popen([sys.executable, "-m", "qa.load", "serve", "--index", index, "--port", str(port)],
                                   stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        processes.append(process)
        ports.append(port)
    for process in processes:
        line = process.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"an answering process did not start (exit {process.poll()})")
    return processes, ports


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (values or [0])[0]


def measure(index: str, reference: dict[str, tuple], processes: int, clients: int, seconds: float) -> dict:
    """Run ``clients`` threads against ``processes`` answering processes for ``seconds``."""
    started, ports = _start(index, processes)
    questions = list(reference)
    latencies: list[float] = []
    wrong: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    turn = iter(range(10**9))

    def client(number: int) -> None:
        i = number
        while time.monotonic() < stop:
            question = questions[i % len(questions)]
            with lock:
                port = ports[next(turn) % len(ports)]
            url = f"http://127.0.0.1:{port}/ask?q={urllib.parse.quote(question)}"
            begin = time.perf_counter()
            with urllib.request.urlopen(url, timeout=120) as response:
                answer = json.loads(response.read())
            elapsed = time.perf_counter() - begin
            got = (answer["answered"], tuple(r["id"] for r in answer["results"]))
            with lock:
                latencies.append(elapsed)
                if got != reference[question]:
                    wrong.append(question)
            i += clients

    try:
        begin = time.monotonic()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - begin
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)
    return {"processes": processes, "clients": clients, "answers": len(latencies),
            "answers_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(_percentile(latencies, 50) * 1000), "p95_ms": round(_percentile(latencies, 95) * 1000),
            "wrong": len(wrong)}


def _reference(index: str, questions: Sequence[str]) -> dict[str, tuple]:
    from .service import open_answerer

    answerer = open_answerer(_settings(index))
    out = {}
    for question in questions:
        answer = answerer.ask(question).to_dict()
        out[question] = (answer["answered"], tuple(r["id"] for r in answer["results"]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.load", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="one answering process on a loopback port")
    p.add_argument("--index", required=True)
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("run", help="measure answers a second with 1, 2... processes")
    p.add_argument("--index", required=True, help="the index the processes answer from")
    p.add_argument("--reference", required=True, help="an index over the same corpus whose answers are right")
    p.add_argument("--questions", type=Path, required=True, help="a question file (JSON Lines)")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.index, args.port)
        return 0
    from .evaluate import load_questions

    reference = _reference(args.reference, [q.question for q in load_questions(args.questions)])
    for count in args.processes:
        print(json.dumps({"index": args.index, **measure(args.index, reference, count, args.clients, args.seconds)}),
              flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
