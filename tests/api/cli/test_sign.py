"""`inquiry-ledger sign`: a statement the page prepared, signed on the signer's own machine
and pasted back, is recorded; a body that is not the prepared one, or a key that is not
the one it names, is refused before anything is signed."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain import Status
from ledger.auditor.canonical import canonical_bytes
from ledger.auditor.entry import format_timestamp
from ledger.keys import KeyPair
from tests.support.web import field, hidden, sign_in, web_client
from tests.support.world import World, make_world


@pytest.fixture
def world(config: Any, clock: Any, cli: Any) -> Any:  # `cli` first: it clears the settings
    w = make_world(config, clock)
    w.add_action("R1.1")
    yield w
    w.ledger.close()


@pytest.fixture
def http(world: World) -> Any:
    with web_client(world) as client:
        yield client


def key_file(world: World, user: str, folder: Path) -> Path:
    path = folder / f"{user}.key"
    world.keys[user].write(path)
    return path


def prepare(http: Any, user: str, command: str, **inputs: str) -> tuple[str, bytes, str]:
    """As a browser without JavaScript: send the form with "Sign on my own machine";
    return the page, and the file it offers for download with its name."""
    csrf = sign_in(http, user)
    form = {"csrf": csrf, "action_id": "R1.1", "command": command, "how": "off-page", **inputs}
    page = http.post("/web/off-page", data=form)
    assert page.status_code == 200, page.text
    body = hidden(page.text, "body")
    download = http.post(
        "/web/off-page/body", data={"csrf": csrf, "action_id": "R1.1", "body": body}
    )
    assert download.status_code == 200
    name = field(download.headers["content-disposition"], r'filename="([^"]+)"')
    assert download.content == base64.b64decode(body)
    return page.text, download.content, name


def paste_back(http: Any, body: bytes, signature: str) -> Any:
    csrf = field(http.get("/").text, r'<meta name="csrf-token" content="([^"]+)"')
    form = {
        "csrf": csrf,
        "action_id": "R1.1",
        "body": base64.b64encode(body).decode(),
        "signature": signature,
    }
    return http.post("/web/off-page/record", data=form, follow_redirects=False)


def test_a_body_signed_by_the_cli_is_recorded_when_pasted_back(
    http: Any, world: World, cli: Any, tmp_path: Path
) -> None:
    page, body, name = prepare(http, "council.officer", "block", reason="Waiting for the police")
    assert name == "action.status_changed-R1.1-v2.json"
    file = tmp_path / name
    file.write_bytes(body)
    key = key_file(world, "council.officer", tmp_path)
    code, out, err = cli("sign", str(file), "--key", str(key))
    assert code == 0, err
    signature = out.strip()
    assert len(base64.b64decode(signature)) == 64 and out.count("\n") == 1
    # What it shows comes from the bytes: type, the action (its name checked against the
    # aggregate id), the payload, signer, key, time, and the fingerprint the page shows.
    for shown in (
        "action.status_changed",
        "action R1.1",
        "Waiting for the police",
        "blocked",
        "council.officer",
        world.keys["council.officer"].key_id,
        json.loads(body)["timestamp"],
        re.search(r'id="off-page-sha256">([0-9a-f]{64})<', page).group(1),  # type: ignore[union-attr]
    ):
        assert shown in err, shown
    if "origin" in json.loads(body):
        assert json.loads(body)["origin"] in err
    assert signature not in err  # only the signature on stdout, everything else on stderr

    recorded = paste_back(http, body, signature + "\n")
    assert recorded.status_code == 303, recorded.text
    assert re.fullmatch(r"/actions/R1\.1\?recorded=\d+", recorded.headers["location"])
    assert world.ledger.action("R1.1").status is Status.BLOCKED
    again = paste_back(http, body, signature)  # sent twice (a double click): recorded once
    assert again.status_code == 303 and again.headers["location"] == recorded.headers["location"]

    # --out writes the signature to a file instead.
    _, body, name = prepare(http, "council.officer", "unblock", reason="The police answered")
    (tmp_path / name).write_bytes(body)
    out_file = tmp_path / "unblock.sig"
    code, out, err = cli("sign", str(tmp_path / name), "--key", str(key), "--out", str(out_file))
    assert code == 0 and out == "" and "written to" in err
    assert paste_back(http, body, out_file.read_text()).status_code == 303
    assert world.ledger.action("R1.1").status is Status.IN_PROGRESS


def test_a_tampered_body_is_refused_by_the_cli_or_by_the_server(
    http: Any, world: World, cli: Any, tmp_path: Path
) -> None:
    _, body, name = prepare(http, "council.officer", "start")
    key = key_file(world, "council.officer", tmp_path)
    file = tmp_path / name
    # Not the exact bytes: re-indented, a line break added by an editor, not JSON, not a body.
    for altered, said in (
        (json.dumps(json.loads(body), indent=2).encode(), "not canonical"),
        (body + b"\n", "line break"),
        (body[:-1], "not canonical"),
        (b'{"a":1}', "not an event body"),
    ):
        file.write_bytes(altered)
        code, out, err = cli("sign", str(file), "--key", str(key))
        assert code == 2 and out == "", err
        assert "not signed" in err and said in err, err
    # Canonical but changed: the CLI signs what the file says (and shows it), but that
    # signature does not verify against the statement the server prepared.
    obj = json.loads(body)
    obj["payload"]["to_status"] = "blocked"
    obj["payload"]["reason"] = "tampered"
    file.write_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())
    code, out, err = cli("sign", str(file), "--key", str(key))
    assert code == 0 and "tampered" in err
    refused = paste_back(http, body, out.strip())
    assert refused.status_code == 403
    assert "does not verify" in refused.text and hidden(refused.text, "body")  # try again
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED


def test_a_key_other_than_the_one_the_body_names_is_refused(
    http: Any, world: World, cli: Any, tmp_path: Path
) -> None:
    _, body, name = prepare(http, "council.officer", "start")
    (tmp_path / name).write_bytes(body)
    wrong = key_file(world, "council.lead", tmp_path)
    code, out, err = cli("sign", str(tmp_path / name), "--key", str(wrong))
    assert code == 2 and out == ""
    assert world.keys["council.officer"].key_id in err
    assert world.keys["council.lead"].key_id in err and "not signed" in err
    stranger = tmp_path / "stranger.key"
    KeyPair.generate().write(stranger)
    code, out, _ = cli("sign", str(tmp_path / name), "--key", str(stranger))
    assert code == 2 and out == ""
    code, _, err = cli("sign", str(tmp_path / name))
    assert code == 2 and "--key" in err
    # A signature by another key, pasted back, is refused by the server too.
    forged = base64.b64encode(world.keys["council.lead"].sign(body)).decode()
    assert paste_back(http, body, forged).status_code == 403
    assert world.ledger.action("R1.1").status is Status.NOT_STARTED


def test_what_it_shows_cannot_hide_text_from_the_terminal(
    http: Any, world: World, cli: Any, tmp_path: Path
) -> None:
    sneaky = "Fine\x1b[2K\r\u202eenil"
    _, body, name = prepare(http, "council.officer", "comment", text=sneaky)
    (tmp_path / name).write_bytes(body)
    key = key_file(world, "council.officer", tmp_path)
    code, _, err = cli("sign", str(tmp_path / name), "--key", str(key))
    assert code == 0
    assert "\x1b" not in err and "\u202e" not in err and "\r" not in err
    assert "Fine\\u001b[2K\\u000d\\u202eenil" in err


def _redated(body: bytes, moment: datetime) -> bytes:
    """The same prepared statement, dated `moment` (as a page with that clock would)."""
    return canonical_bytes({**json.loads(body), "timestamp": format_timestamp(moment)})


def test_it_warns_of_a_date_the_ledger_would_refuse_on_either_side(
    http: Any, world: World, cli: Any, tmp_path: Path
) -> None:
    # The ledger's bounds differ on each side (ledger/timestamps.py): five minutes behind
    # its clock, five seconds ahead. The warning names the side and its bound.
    _, body, name = prepare(http, "council.officer", "comment", text="Noted")
    key = key_file(world, "council.officer", tmp_path)
    file = tmp_path / name
    now = datetime.now(UTC)
    for moment, warning in (
        (now - timedelta(minutes=10), "dated at most 5 minutes behind"),
        (now + timedelta(minutes=1), "dated at most 5 seconds ahead"),
        (now, None),
    ):
        file.write_bytes(_redated(body, moment))
        code, _, err = cli("sign", str(file), "--key", str(key))
        assert code == 0, err
        if warning is None:
            assert "warning" not in err
        else:
            assert warning in err, err
