"""The server pushes each regular checkpoint to its witnesses over C2SP tlog-witness
(api/application/witness_push.py), and `inquiry-ledger witness serve` answers as a
witness (api/cli/witness.py). Everything over real HTTP on loopback."""

from __future__ import annotations

import base64
import dataclasses
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.application.checkpoints import RegularCheckpoints
from api.application.witness_push import WitnessPush
from api.cli.main import build_parser, main
from api.cli.witness import WitnessServer, witness_server
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import Cosigner, note_body, open_cosignature
from ledger.auditor.note import NoteSigner, VerifierKey
from ledger.bundle import export_bundle
from ledger.config import ConfigError, ConfiguredWitness, LedgerConfig, parse_witnesses
from ledger.keys import KeyPair
from ledger.tlog_witness import build_add_checkpoint, parse_cosignatures
from ledger.witness import WitnessState
from tests.support.server import REPO, free_port
from tests.support.world import World, make_world

WITNESS_NAME = "chair.inquiry.example"


@pytest.fixture
def world(config: LedgerConfig) -> Iterator[World]:
    """The charter world with R1.1, on the real clock: a witness cosigns at its own time,
    which the ledger refuses if it is ahead of the ledger's clock."""
    w = make_world(config, lambda: datetime.now(UTC))
    w.add_action("R1.1")
    yield w
    w.ledger.close()


@dataclasses.dataclass
class Running:
    server: WitnessServer
    key_file: Path
    state: WitnessState

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def cosigner(self) -> Cosigner:
        return self.server.witness.cosigner

    @property
    def configured(self) -> ConfiguredWitness:
        return ConfiguredWitness(self.url, self.cosigner.public)

    def post(self, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/add-checkpoint", content=body, timeout=5)


def _serve_args(tmp_path: Path, log_keys: list[VerifierKey], *extra: str) -> list[str]:
    key_file = tmp_path / "witness.key"
    if not key_file.exists():
        KeyPair.generate().write(key_file)
    vkey_file = tmp_path / "pinned.vkey"
    vkey_file.write_text("".join(key.encode() + "\n" for key in log_keys))
    return [
        "witness", "serve", "--name", WITNESS_NAME, "--key", str(key_file),
        "--log-key", str(vkey_file), "--state", str(tmp_path / "state"), *extra,
    ]  # fmt: skip


@contextmanager
def running_witness(tmp_path: Path, log_keys: list[VerifierKey]) -> Iterator[Running]:
    """`witness serve` as the CLI parses it, on a free loopback port, in a thread."""
    args = build_parser().parse_args(_serve_args(tmp_path, log_keys, "--port", "0"))
    server = witness_server(args)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(server, tmp_path / "witness.key", server.witness.state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def witness(world: World, tmp_path: Path) -> Iterator[Running]:
    with running_witness(tmp_path / "witness", [world.vkey]) as running:
        yield running


@pytest.fixture
def post() -> Iterator[Any]:
    from api.http.witness_client import HttpxWitnessPost

    client = HttpxWitnessPost()
    yield client
    client.close()


def _grow(world: World, n: int = 1) -> None:
    for i in range(n):
        world.client("council.officer").comment("R1.1", f"note {i}")


def _cosigned(world: World, witness: Running) -> dict[int, str]:
    key = witness.cosigner.public.encode()
    return {size: line for size, k, line in world.ledger.tables.cosignatures() if k == key}


def _wait(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- the log asks, the witness cosigns ----------------------------------------------------


def test_each_regular_checkpoint_is_cosigned_and_the_auditor_accepts_it(
    world: World, witness: Running, post: Any, tmp_path: Path
) -> None:
    push = WitnessPush(world.ledger, [witness.configured], post)
    regular = RegularCheckpoints(world.ledger, world.config, 60, on_signed=push)
    first = regular.tick()
    assert first is not None
    line = _cosigned(world, witness)[first.tree_size]
    assert open_cosignature(note_body(first.note), line, witness.cosigner.public) > 0
    assert witness.state.latest() == first.note  # the witness saved what it cosigned

    _grow(world, 3)
    second = regular.tick()  # old size = the first: a consistency proof from it
    assert second is not None and second.tree_size == first.tree_size + 3
    assert set(_cosigned(world, witness)) == {first.tree_size, second.tree_size}
    assert witness.state.latest() == second.note

    export_bundle(world.ledger, world.vkey.encode(), tmp_path / "bundle")
    witness_key = witness.cosigner.public.encode()
    report = audit(
        tmp_path / "bundle", log_key=world.vkey.encode(), trust=world.trust,
        witness_keys=[witness_key],
    )  # fmt: skip
    assert report.ok, report.problems
    assert report.witnessed == {WITNESS_NAME: second.tree_size}
    (tmp_path / "chair.wkey").write_text(witness_key)
    (tmp_path / "log.vkey").write_text(world.vkey.encode())
    (tmp_path / "trust.keys").write_text(world.trust)
    code = main(
        [
            "verify-bundle", str(tmp_path / "bundle"), "--log-key", str(tmp_path / "log.vkey"),
            "--trust", str(tmp_path / "trust.keys"),
            "--witness-key", str(tmp_path / "chair.wkey"), "--witnesses", "1",
            "--report", str(tmp_path / "report"),
        ]
    )  # fmt: skip
    assert code == 0


def test_a_witness_that_lost_its_state_answers_409_and_is_asked_again_from_0(
    world: World, witness: Running, post: Any, caplog: pytest.LogCaptureFixture
) -> None:
    push = WitnessPush(world.ledger, [witness.configured], post)
    regular = RegularCheckpoints(world.ledger, world.config, 60, on_signed=push)
    first = regular.tick()
    assert first is not None and first.tree_size in _cosigned(world, witness)
    witness.state.latest_path.unlink()  # behind: it remembers nothing
    _grow(world)
    with caplog.at_level(logging.INFO, "inquiry_ledger.witnesses"):
        second = regular.tick()  # old = first, answered 409 "0", retried with old 0
    assert second is not None and second.tree_size in _cosigned(world, witness)
    assert "is at size 0: asking again" in caplog.text
    assert witness.state.latest() == second.note


def test_a_witness_ahead_of_the_ledger_answers_409_with_its_size(
    world: World, witness: Running, post: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pulled = world.checkpoint()  # the witness cosigned it by pulling, but it was not stored
    witness.state.save(pulled.note)
    _grow(world, 2)
    push = WitnessPush(world.ledger, [witness.configured], post)
    regular = RegularCheckpoints(world.ledger, world.config, 60, on_signed=push)
    stored = regular.tick()  # old 0 -> 409 with the pulled size -> a proof from it -> 200
    assert stored is not None and set(_cosigned(world, witness)) == {stored.tree_size}

    # Ahead of the checkpoint itself: nothing to prove, nothing asked again or recorded.
    _grow(world)
    later = world.checkpoint()
    witness.state.save(later.note)
    _grow(world)
    newer = world.ledger.sign_checkpoint(world.log_signer)
    witness.state.save(newer.note)
    with caplog.at_level(logging.INFO, "inquiry_ledger.witnesses"):
        assert push.push(witness.configured, later) is False
    assert f"has cosigned size {newer.tree_size}, beyond checkpoint" in caplog.text
    assert set(_cosigned(world, witness)) == {stored.tree_size}


# -- what the witness refuses -------------------------------------------------------------


def test_a_checkpoint_by_a_key_the_witness_did_not_pin_is_403_and_nothing_is_recorded(
    world: World, post: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = NoteSigner(world.ledger.origin(), KeyPair.generate()).verifier  # same origin
    with running_witness(tmp_path, [other]) as witness:
        push = WitnessPush(world.ledger, [witness.configured], post)
        with caplog.at_level(logging.INFO, "inquiry_ledger.witnesses"):
            assert RegularCheckpoints(world.ledger, world.config, 60, on_signed=push).tick()
        assert "HTTP 403" in caplog.text
        assert world.ledger.tables.cosignatures() == []
        assert witness.state.latest() is None


def test_a_forged_checkpoint_is_403_and_another_origin_404(world: World, witness: Running) -> None:
    impostor = NoteSigner(world.ledger.origin(), KeyPair.generate())
    forged = Checkpoint(world.ledger.origin(), 5, b"\x01" * 32).sign(impostor)
    response = witness.post(build_add_checkpoint(0, [], forged))
    assert response.status_code == 403, response.text
    assert "no valid signature by a pinned log key" in response.text
    honest = world.checkpoint()
    tampered = honest.note.replace(f"\n{honest.tree_size}\n", f"\n{honest.tree_size + 1}\n", 1)
    assert witness.post(build_add_checkpoint(0, [], tampered)).status_code == 403
    elsewhere = NoteSigner("another.example/log", KeyPair.generate())
    response = witness.post(
        build_add_checkpoint(
            0, [], Checkpoint("another.example/log", 1, b"\x01" * 32).sign(elsewhere)
        )
    )
    assert response.status_code == 404
    assert witness.state.latest() is None
    assert not list(witness.state.folder.glob("split-view-*"))


def test_a_bad_proof_is_422_and_the_state_stays(world: World, witness: Running) -> None:
    first = world.checkpoint()
    ok = witness.post(build_add_checkpoint(0, [], first.note))
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    (line,) = parse_cosignatures(ok.content)
    assert open_cosignature(note_body(first.note), line, witness.cosigner.public)
    _grow(world, 3)
    second = world.checkpoint()
    proof = world.ledger.consistency_proof(first.tree_size, second.tree_size)
    bad = [bytes(32)] * len(proof)
    response = witness.post(build_add_checkpoint(first.tree_size, bad, second.note))
    assert response.status_code == 422, response.text
    assert witness.state.latest() == first.note
    assert not list(witness.state.folder.glob("split-view-*"))  # an unsigned proof: no evidence
    # From size 0 the proof is empty; between equal sizes too.
    response = witness.post(
        b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + second.note.encode()
    )
    assert response.status_code == 409  # the witness is at the first size, not 0
    response = witness.post(
        f"old {first.tree_size}\n".encode()
        + base64.b64encode(bytes(32))
        + b"\n\n"
        + first.note.encode()
    )
    assert response.status_code == 422
    # The right proof is cosigned.
    response = witness.post(build_add_checkpoint(first.tree_size, proof, second.note))
    assert response.status_code == 200 and witness.state.latest() == second.note


def test_the_size_conflicts_and_malformed_requests(world: World, witness: Running) -> None:
    first = world.checkpoint()
    assert witness.post(build_add_checkpoint(0, [], first.note)).status_code == 200
    response = witness.post(build_add_checkpoint(0, [], first.note))
    assert response.status_code == 409
    assert response.headers["content-type"] == "text/x.tlog.size"
    assert response.content == f"{first.tree_size}\n".encode()
    response = witness.post(build_add_checkpoint(first.tree_size, [], first.note))
    assert response.status_code == 200  # the same checkpoint again: cosigned again
    response = witness.post(f"old {first.tree_size + 1}\n\n".encode() + first.note.encode())
    assert response.status_code == 400  # an old size above the checkpoint's
    for body in (b"", b"hello", b"old 01\n\n" + first.note.encode(), b"old 0\n\nnot a note\n"):
        assert witness.post(body).status_code == 400, body
    assert httpx.get(f"{witness.url}/add-checkpoint").status_code == 405
    assert httpx.post(f"{witness.url}/other", content=b"x").status_code == 404
    assert witness.state.latest() == first.note


def test_a_same_size_fork_is_409_and_kept_as_evidence(world: World, witness: Running) -> None:
    honest = world.checkpoint()
    assert witness.post(build_add_checkpoint(0, [], honest.note)).status_code == 200
    forked = Checkpoint(world.ledger.origin(), honest.tree_size, b"\x07" * 32)
    shown = forked.sign(world.log_signer)
    response = witness.post(build_add_checkpoint(honest.tree_size, [], shown))
    assert response.status_code == 409
    assert response.content == f"{honest.tree_size}\n".encode()
    (evidence,) = witness.state.folder.glob("split-view-*.txt")
    text = evidence.read_text()
    assert "SPLIT VIEW" in text and honest.note in text and shown in text
    assert witness.state.latest() == honest.note


def test_a_forged_cosignature_in_the_answer_is_not_recorded(
    world: World, post: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A witness (or whoever answers at its URL) whose lines do not verify with the key
    the log configured for it: nothing is stored."""
    impostor = Cosigner(WITNESS_NAME, KeyPair.generate())
    with _answering(lambda body: (200, impostor.cosign("whatever\n", 1) + "\n")) as url:
        configured = ConfiguredWitness(url, Cosigner(WITNESS_NAME, KeyPair.generate()).public)
        push = WitnessPush(world.ledger, [configured], post)
        with caplog.at_level(logging.INFO, "inquiry_ledger.witnesses"):
            assert RegularCheckpoints(world.ledger, world.config, 60, on_signed=push).tick()
    assert "answered no valid cosignature" in caplog.text
    assert world.ledger.tables.cosignatures() == []


# -- one witness failing never stops the others, nor the checkpoints ----------------------


@contextmanager
def _answering(answer: Callable[[bytes], tuple[int, str]]) -> Iterator[str]:
    """A loopback HTTP server answering every POST with `answer(body)`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, text = answer(body)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _silent() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_unreachable_slow_and_failing_witnesses_do_not_stop_the_checkpoint_thread(
    world: World, witness: Running, caplog: pytest.LogCaptureFixture
) -> None:
    from api.http.witness_client import HttpxWitnessPost

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens
    other_key = Cosigner("other.example", KeyPair.generate()).public
    post = HttpxWitnessPost(timeout=0.5)
    with _silent() as silent, _answering(lambda body: (500, "down\n")) as failing:
        witnesses = [
            ConfiguredWitness(nobody, other_key),
            ConfiguredWitness(silent, other_key),
            ConfiguredWitness(failing, other_key),
            witness.configured,
        ]
        push = WitnessPush(world.ledger, witnesses, post)
        regular = RegularCheckpoints(world.ledger, world.config, 0.05, on_signed=push)
        with caplog.at_level(logging.INFO, "inquiry_ledger.witnesses"):
            regular.start()
            try:
                size = world.ledger.tree_size()
                _wait(lambda: size in _cosigned(world, witness))
                _grow(world)
                _wait(lambda: size + 1 in _cosigned(world, witness))
            finally:
                regular.stop()
                post.close()
    assert "unreachable: ConnectError" in caplog.text
    assert "unreachable: ReadTimeout" in caplog.text
    assert "HTTP 500" in caplog.text


def test_the_server_pushes_when_witnesses_are_configured(world: World, witness: Running) -> None:
    from api.http.app import create_app

    config = dataclasses.replace(
        world.config,
        witnesses=(witness.configured,),
        checkpoint_interval=timedelta(seconds=0.05),
    )
    with TestClient(create_app(config, world.ledger)):
        _wait(lambda: world.ledger.tree_size() in _cosigned(world, witness))


# -- `witness serve` on the command line, and INQUIRY_LEDGER_WITNESSES --------------------


def test_witness_serve_runs_as_a_process(world: World, post: Any, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "api.cli", *_serve_args(tmp_path, [world.vkey]), "--port", "0"]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"witness {WITNESS_NAME} for {world.ledger.origin()}: POST http://" in banner
        url = banner.split("POST ")[1].split(" ")[0].removesuffix("/add-checkpoint")
        key = banner.split("(witness key ")[1].rstrip(")\n")
        configured = ConfiguredWitness(
            url, Cosigner(WITNESS_NAME, KeyPair.read(tmp_path / "witness.key")).public
        )
        assert configured.key.encode() == key
        push = WitnessPush(world.ledger, [configured], post)
        stored = RegularCheckpoints(world.ledger, world.config, 60, on_signed=push).tick()
        assert stored is not None
        assert [size for size, _, _ in world.ledger.tables.cosignatures()] == [stored.tree_size]
    finally:
        process.terminate()
        process.wait(10)
    assert (tmp_path / "state" / "latest-cosigned.note").read_text() == stored.note


def test_witness_serve_argument_errors(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def serve(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    base = _serve_args(tmp_path, [world.vkey])
    with pytest.raises(SystemExit) as exited:
        main(base[:-2])  # no --state
    assert exited.value.code == 2
    assert "--state" in capsys.readouterr().err
    code, err = serve(*base, "--port", "70000")
    assert code == 2 and "--port must be between 0 and 65535" in err
    bad_name = [*base]
    bad_name[bad_name.index(WITNESS_NAME)] = "bad name+"
    code, err = serve(*bad_name, "--port", "0")
    assert code == 2 and "witness name" in err
    no_key = [*base]
    no_key[no_key.index("--key") + 1] = str(tmp_path / "missing.key")
    assert serve(*no_key, "--port", "0")[0] == 2
    no_vkey = [*base]
    no_vkey[no_vkey.index("--log-key") + 1] = str(tmp_path / "missing.vkey")
    code, err = serve(*no_vkey, "--port", "0")
    assert code == 2 and "cannot read the log verifier key" in err
    (tmp_path / "garbage.vkey").write_text("not a key\n")
    garbage = [*base]
    garbage[garbage.index("--log-key") + 1] = str(tmp_path / "garbage.vkey")
    assert serve(*garbage, "--port", "0")[0] == 2
    second = NoteSigner(world.ledger.origin(), KeyPair.generate()).verifier
    two = _serve_args(tmp_path, [world.vkey, second])
    code, err = serve(*two, "--port", "0")
    assert code == 2 and "no rotation statement binds" in err
    # A state folder holding a checkpoint the pinned key did not sign: refused at start.
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    stranger = NoteSigner(world.ledger.origin(), KeyPair.generate())
    (state / "latest-cosigned.note").write_text(
        Checkpoint(world.ledger.origin(), 1, b"\x01" * 32).sign(stranger)
    )
    base = _serve_args(tmp_path, [world.vkey])
    code, err = serve(*base, "--port", "0")
    assert code == 1 and "does not verify with the pinned log key" in err
    (state / "latest-cosigned.note").unlink()
    (tmp_path / "file").write_text("")
    not_folder = [*base]
    not_folder[not_folder.index("--state") + 1] = str(tmp_path / "file")
    code, err = serve(*not_folder, "--port", "0")
    assert code == 2 and "is not a folder" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        code, err = serve(*base, "--port", str(taken.getsockname()[1]))
    assert code == 2 and "cannot listen on 127.0.0.1" in err


def test_the_witnesses_setting_is_checked_at_start(tmp_path: Path) -> None:
    key = Cosigner(WITNESS_NAME, KeyPair.generate()).public.encode()
    other = Cosigner("scrutiny.example", KeyPair.generate()).public.encode()
    path = tmp_path / "witnesses.txt"
    path.write_text(
        f"# the chair\nhttps://witness.chair.example/ {key}\n\nhttp://127.0.0.1:8081/w {other}\n"
    )
    config = LedgerConfig.from_env({"INQUIRY_LEDGER_WITNESSES": str(path)})
    assert [(w.url, w.key.encode()) for w in config.witnesses] == [
        ("https://witness.chair.example", key),
        ("http://127.0.0.1:8081/w", other),
    ]
    assert config.witnesses[1].add_checkpoint_url == "http://127.0.0.1:8081/w/add-checkpoint"
    assert LedgerConfig.from_env({}).witnesses == ()
    for text, says in [
        ("https://w.example\n", "line 1: write one witness a line as 'URL KEY'"),
        (f"https://w.example {key} extra\n", "line 1: write one witness a line"),
        ("# ok\nhttps://w.example chair+00000000+AAAA\n", "line 2: "),
        (f"ftp://w.example {key}\n", "line 1: the witness URL must be http"),
        (f"https://user:pw@w.example {key}\n", "line 1: the witness URL may not carry a user"),
        (f"https://w.example/?a=1 {key}\n", "line 1: the witness URL may not carry a query"),
        (f"https://w.example:x {key}\n", "line 1: 'https://w.example:x' is not a URL"),
        (f"https://a.example {key}\nhttps://b.example {key}\n", "line 2: witness key"),
    ]:
        with pytest.raises(ConfigError, match=says.replace("?", r"\?")):
            parse_witnesses(text)
    with pytest.raises(ConfigError, match="INQUIRY_LEDGER_WITNESSES: cannot read"):
        LedgerConfig.from_env({"INQUIRY_LEDGER_WITNESSES": str(tmp_path / "missing")})
    path.write_text(f"https://w.example {key[:-2]}\n")
    with pytest.raises(ConfigError, match=f"INQUIRY_LEDGER_WITNESSES {path}, line 1"):
        LedgerConfig.from_env({"INQUIRY_LEDGER_WITNESSES": str(path)})
