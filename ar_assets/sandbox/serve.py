"""Runs sandbox ASGI apps on 127.0.0.1: in a background thread for tests, or standalone.

    python -m ar_assets.sandbox.serve netsuite --dataset synthetic --clients 500
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import date

import uvicorn
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse


def _bound_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def serve_app(app, port: int = 0, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serves an ASGI app on 127.0.0.1 in a background thread; yields its base URL.

    Port 0 picks a free port. The server stops when the block exits.
    """
    sock = _bound_socket(port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def faults_endpoint(request: Request, faults: object) -> JSONResponse:
    """GET shows a sandbox's fault switches; PUT changes the named ones.

    A change is checked against the switch's declared type before anything is
    set, so an unknown name or a value of the wrong type answers 400 and leaves
    every switch as it was.
    """
    if request.method == "PUT":
        try:
            changes = await request.json()
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            return JSONResponse({"error": "expected a JSON object of fault switches"}, 400)
        unknown = sorted(set(changes) - {f.name for f in fields(faults)})
        if unknown:
            return JSONResponse({"error": f"unknown faults {unknown}"}, 400)
        try:
            checked = TypeAdapter(type(faults)).validate_python({**asdict(faults), **changes})
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in error.errors(include_url=False))
            return JSONResponse({"error": f"invalid faults: {problems}"}, 400)
        for name in changes:
            setattr(faults, name, getattr(checked, name))
    return JSONResponse(asdict(faults))


def _netsuite_sandbox(dataset: str, clients: int, as_of: date):
    from ar_assets.sandbox.netsuite_server import NetSuiteSandbox

    if dataset == "ibm":
        from ar_assets.sandbox.ibm import load_ibm_ledger

        ledger = load_ibm_ledger()
    else:
        from ar_assets.sandbox.synthetic import generate_ledger

        ledger = generate_ledger(clients, as_of)
    return NetSuiteSandbox(ledger, as_of)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ar_assets.sandbox.serve")
    parser.add_argument("server", choices=["netsuite"])
    parser.add_argument("--dataset", choices=["synthetic", "ibm"], default="synthetic")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    sandbox = _netsuite_sandbox(args.dataset, args.clients, args.as_of)
    creds = sandbox.credentials
    with serve_app(sandbox.app, port=args.port) as base_url:
        print(f"NetSuite sandbox ({args.dataset}, as of {sandbox.as_of}) at {base_url}")
        print("Export these to point the pipeline at it (sandbox values, not secrets):")
        print(f"export NETSUITE_BASE_URL={base_url}")
        print(f"export NETSUITE_ACCOUNT_ID={creds.account_id}")
        print(f"export NETSUITE_CONSUMER_KEY={creds.consumer_key}")
        print(f"export NETSUITE_CONSUMER_SECRET={creds.consumer_secret}")
        print(f"export NETSUITE_TOKEN_ID={creds.token_id}")
        print(f"export NETSUITE_TOKEN_SECRET={creds.token_secret}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
