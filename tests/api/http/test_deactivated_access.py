"""Deactivation ends reading as well as signing (issue 14): the user's bearer token and
browser session are refused from the entry on, with a reason; `tokens create` will not
issue them a new one; reactivation gives reading back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.application.tokens import TokenStore
from api.http.app import create_app
from tests.support.pages import sign_in
from tests.support.world import World


def test_a_deactivated_user_reads_nothing(world: World) -> None:
    with TestClient(create_app(world.config, world.ledger)) as http:
        tokens = TokenStore(world.ledger.tables)
        http.tokens = {
            user: tokens.create(user, timedelta(days=1), now=world.clock.now) for user in world.keys
        }
        auth = {"Authorization": f"Bearer {http.tokens['council.officer']}"}
        assert http.get("/v1/status", headers=auth).status_code == 200
        sign_in(http, "council.officer")
        assert http.get("/", follow_redirects=False).status_code == 200

        world.client("council.lead").deactivate_user("council.officer", "left the council")
        refused = http.get("/v1/status", headers=auth)
        assert refused.status_code == 401
        assert "council.officer has been deactivated" in refused.json()["detail"]
        assert http.get("/", follow_redirects=False).status_code == 303  # to /signin
        assert http.get("/v1/status").status_code == 401  # the session cookie alone

        world.client("council.lead").reactivate_user("council.officer", "rejoined")
        assert http.get("/v1/status", headers=auth).status_code == 200


def test_no_token_for_a_deactivated_user(cli: Any, tmp_path: Any) -> None:
    from tests.support.sample_plan import setup_plan

    setup_plan(cli, tmp_path)
    sam = ["--as", "sam", "--key", str(tmp_path / "sam.key")]
    code, _, err = cli(*sam, "users", "deactivate", "jo", "--reason", "left")
    assert code == 0, err
    code, _, err = cli("--as", "admin", "tokens", "create", "jo")
    assert code != 0 and "jo has been deactivated: reactivate them first" in err
