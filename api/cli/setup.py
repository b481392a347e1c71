"""`init`, `demo` and `serve`: create a ledger, seed the demonstration, run the HTTP service."""

from __future__ import annotations

import argparse
import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.application.demo import run_demo
from api.application.setup import initialise
from api.cli.common import CliError, Parsers, Subparsers, config_from
from ledger.keys import KeyPair
from ledger.pqkeys import pq_vkey_path
from ledger.sigpool import cores


def cmd_init(args: argparse.Namespace) -> int:
    config = config_from(args)
    if not args.admin_key:
        raise CliError(
            "init needs the first administrator's key, made on their side: "
            "inquiry-ledger keys new --out ~/admin.key, then init --admin-key ~/admin.key "
            "(it is read to sign the genesis entry and never copied: the server keeps no "
            "user's private key)"
        )
    admin_key = KeyPair.read(Path(args.admin_key))
    result = initialise(
        config,
        origin=args.origin,
        admin_id=args.admin_id,
        admin_name=args.admin_name,
        admin_key=admin_key,
    )
    print(f"initialised ledger {result.origin} in {config.describe_store()}")
    print(f"log verifier key (publish it; auditors pin it): {result.log_vkey}")
    if result.pq_vkey is not None:
        label = "+".join(result.pq_vkey.split("+", 2)[:2])  # NAME+KEYID; the key is 1.8 kB
        print(
            f"post-quantum (ML-DSA-44) log verifier key {label}: {pq_vkey_path(config)} "
            "(publish it; auditors pin it with verify-bundle --pq-log-key)"
        )
    else:
        print(
            "no post-quantum log key: this cryptography has no ML-DSA-44 "
            "(inquiry-ledger log-key add-pq adds one later)"
        )
    print(
        "next: the chair adopts the charter with a key made on their own machine "
        "(inquiry-ledger charter adopt --as CHAIR --key CHAIR.key ...)"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.http.app import create_app
    from api.http.connections import ServerLimits, protocol_for, raise_open_files_limit
    from api.http.worker import log_to_stderr
    from ledger.sigpool import POOL_SETTING

    config = config_from(args)
    limits = ServerLimits.from_env()
    if args.checkpoint_interval is not None:
        if not 0 <= args.checkpoint_interval <= 86_400:
            raise CliError("--checkpoint-interval is between 0 and 86400 seconds")
        interval = timedelta(seconds=args.checkpoint_interval)
        config = dataclasses.replace(config, checkpoint_interval=interval)
    workers = cores() if args.workers is None else args.workers
    if not 1 <= workers <= 64:
        raise CliError("--workers is between 1 and 64")
    app_logger = log_to_stderr()
    # Idle and slow clients, head sizes and the connection cap: api/http/connections.py.
    # uvicorn's limit_concurrency is left off: it would count idle connections against
    # real requests. Its keep-alive timeout (5 s) stays: the header timeout bounds it.
    protocol = protocol_for(limits, raise_open_files_limit())
    app_logger.info(
        "%d worker(s), at most %d connections at once each (%s)",
        workers,
        protocol.cap,
        limits.describe(),
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "access_log": False,
    }
    if workers == 1:
        uvicorn.run(create_app(config, limits=limits), http=protocol, **common)
        return 0
    # Each worker starts afresh and reads its settings from the environment (api/http/
    # worker.py): hand it the home folder and the checkpoint interval chosen here.
    os.environ["INQUIRY_LEDGER_HOME"] = str(config.home)
    os.environ["INQUIRY_LEDGER_CHECKPOINT_INTERVAL"] = str(
        config.checkpoint_interval.total_seconds()
    )
    os.environ[POOL_SETTING] = "off"
    uvicorn.run(
        "api.http.worker:app",
        factory=True,
        workers=workers,
        http="api.http.worker:WorkerHttp",
        **common,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    config = config_from(args)
    from projections.minutes_render import minutes_sha256

    return run_demo(
        config, data_file=Path(args.data) if args.data else None, minutes_digest=minutes_sha256
    )


def _add_init(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="create a ledger, its log key and a first administrator")
    p.add_argument(
        "--origin",
        default="inquiry-ledger.local/plan",
        help="the log's name in its checkpoints (e.g. council.example/cse-inquiry)",
    )
    p.add_argument("--admin-id", default="admin")
    p.add_argument("--admin-name", default="Ledger administrator")
    p.add_argument(
        "--admin-key",
        required=False,
        help="the first administrator's private key file (from `keys new`, kept on their "
        "side; read to sign the genesis, never copied)",
    )
    p.set_defaults(func=cmd_init)


def _add_serve(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--checkpoint-interval",
        type=float,
        metavar="SECONDS",
        help="sign a checkpoint within this long of the log growing; 0: never "
        "(default $INQUIRY_LEDGER_CHECKPOINT_INTERVAL or 10)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes answering on the port, sharing the ledger (default: the cores "
        "this process may run on; 1 serves in this process)",
    )
    p.set_defaults(func=cmd_serve)


def _add_demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="seed the Telford plan with a simulated history and show it")
    p.add_argument(
        "--data", help="recommendations CSV (default: the Telford list in api/application/data/)"
    )
    p.set_defaults(func=cmd_demo)


PARSERS: Parsers = {"init": _add_init, "serve": _add_serve, "demo": _add_demo}
