"""End to end in a real browser: Debian's Chromium driven by Playwright, against a real
uvicorn server on PostgreSQL, set up as its people set it up (tests/support/deployment.py):
the administrator inits it with their own key and the chair adopts the charter with a key
made on their own machine; over HTTP the chair appoints the implementation group, which
imports the plan, and the council's lead, who registers the officers — both with key files
for that command-line work, after which each moves to a key made in their own browser
(WebCrypto Ed25519, non-extractable, in IndexedDB; `keys rotate --public-key`). Officers
and scrutiny make their keys in their browsers and their appointers register only the
public half. Then the whole flow runs through the pages: an officer uploads evidence and
submits, the agency lead signs off, the implementation group accepts, the chair — whom
the charter requires to sign on their own machine — verifies with `inquiry-ledger sign`
and runs the verifier, scrutiny looks at a past moment and the diff; an officer whose key
is a file signs on their own machine too and pastes the signature back.

Screenshots of each page go to the test's tmp folder (and, if WEB_SCREENSHOTS_DIR is
set, are copied there too). Without /usr/bin/chromium the test is skipped locally with
a message, and fails in CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from ledger.auditor.canonical import canonical_bytes
from tests.support.browser import AXE_OPTIONS, CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.support.deployment import Deployment, cli_runner
from tests.support.sample_plan import RECOMMENDATIONS
from tests.support.server import running_server

ACTIONS = (
    "action_id,recommendation,title,lead_agency,lead_officers,expected_outcome,"
    "evidence_required,due_date\n"
    "R1.1,1,Set up the joint review group,Council,Director,Group meets,Terms of reference,"
    "2023-03-31\n"
    "R2.1,2,Publish the annual report,West Mercia Police,Superintendent,Report out,Report,\n"
)
#: user, name, role, agency, appointer (None: the chair, who adopted the charter)
USERS = [
    ("jo", "Jo Officer", "officer", "council", "sam"),
    ("sam", "Sam Lead", "agency_lead", "council", "kc"),
    ("sig", "Implementation Group", "implementation_group", None, "kc"),
    ("kc", "The Chair", "chair", None, None),
    ("scrutiny", "Scrutiny Committee", "scrutiny", None, "kc"),
]
#: Who first works from the command line with a key file (importing the plan, registering
#: officers), then rotates to a key made in their browser.
KEY_FILE_FIRST = ("sig", "sam")


_require_browser = require_browser


def cli(*args: str, capsys: Any) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, f"inquiry-ledger {' '.join(args)}: {err}"
    return out


@pytest.fixture
def server(
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployment]:
    env = {
        "INQUIRY_LEDGER_HOME": str(tmp_path / "server-home"),
        "INQUIRY_LEDGER_DATABASE_URL": postgres_url,
        "INQUIRY_LEDGER_EVIDENCE_BACKEND": "local",
    }
    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    site = Deployment(
        cli_runner(capsys), monkeypatch, env, tmp_path / "own-keys", tmp_path / "client-home"
    )
    site.initialise("council.example/web-e2e")
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    (tmp_path / "actions.csv").write_text(ACTIONS)
    with running_server(env) as url:
        site.url = url
        site.adopt_charter("kc")
        site.token("kc")
        names = {user: name for user, name, *_ in USERS}
        site.appoint("kc", "sig", "implementation_group", name=names["sig"])
        site.import_plan("sig", [tmp_path / "recs.csv", tmp_path / "actions.csv"], expected=2)
        site.appoint("kc", "sam", "agency_lead", "council", name=names["sam"])
        # An officer who keeps a file key and never signs in a browser (sign_on_own_machine).
        site.appoint("sam", "ola", "officer", "council", name="Ola Officer")
        yield site


class Shots:
    """Numbered full-page screenshots in the test's folder (and an optional copy), each
    page also audited with axe-core against WCAG 2.1 A and AA (contrast, labels, names,
    landmarks, table headers...); the violations are asserted at the end of the test."""

    def __init__(self, folder: Path) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.axe = Axe()
        self.violations: list[str] = []

    def take(self, page: Any, name: str, *, audit: bool = True) -> None:
        """`audit=False` for a page with JavaScript off, where axe itself cannot run."""
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        if not audit:
            return
        for found in self.axe.run(page, options=AXE_OPTIONS).response["violations"]:
            where = "; ".join(n["html"][:120] for n in found["nodes"][:3])
            self.violations.append(f"{name}: {found['id']} ({found['help']}): {where}")

    def publish(self) -> None:
        target = os.environ.get("WEB_SCREENSHOTS_DIR")
        if target:
            shutil.copytree(self.folder, target, dirs_exist_ok=True)


def make_key(page: Any, url: str, user: str) -> str:
    """On the key page, as the user would: returns the base64 public key it shows."""
    page.goto(f"{url}/keys")
    page.get_by_label("Your user id").fill(user)
    page.get_by_role("button", name="Make my signing key").click()
    public = page.locator("#key-public")
    public.wait_for(state="visible")
    return str(public.inner_text()).strip()


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Your access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def act(
    page: Any,
    url: str,
    command_label: str,
    fields: dict[str, str] | None = None,
    *,
    shots: Shots | None = None,
    name: str = "",
    file: Path | None = None,
) -> int:
    """Fill and send one signing form on R1.1's page, check the review, sign; return the
    log position the page reports."""
    page.goto(f"{url}/actions/R1.1")
    heading = page.get_by_role("heading", name=command_label, exact=True)
    form = page.locator("form.sign-form", has=heading)
    for label, value in (fields or {}).items():
        form.get_by_label(label).fill(value)
    if file is not None:
        form.get_by_label("File").set_input_files(str(file))
    form.get_by_role("button", name=f"{command_label}…").click()
    review = page.locator("#review")
    review.wait_for(state="visible")
    if file is not None:  # the upload finished, verified, before anything was signed
        assert form.locator("progress").evaluate("bar => bar.value") == 100
        assert "uploaded and verified" in form.locator(".progress-text").inner_text()
    if shots is not None:
        shots.take(page, f"{name}-review")
    with page.expect_navigation(url=re.compile(r"recorded=\d+")):
        review.get_by_role("button", name="Sign and record").click()
    message = page.get_by_role("status").filter(has_text="recorded at log position")
    return int(re.search(r"log position (\d+)", message.inner_text()).group(1))


def sign_off_by_keyboard(page: Any, url: str, statement: str, shots: Shots) -> None:
    """The implementation group signs off with the keyboard alone: type, Tab, Enter; the
    review takes focus; Tab to "Sign and record", Enter."""
    page.goto(f"{url}/actions/R1.1")
    form = page.locator("form.sign-form", has=page.get_by_role("heading", name="Sign off"))
    form.get_by_label("Statement (optional)").focus()
    page.keyboard.type(statement)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign off…"
    page.keyboard.press("Enter")
    page.locator("#review").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "review"
    page.keyboard.press("Tab")  # the <details> summary with the exact canonical JSON
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "review-sign"
    shots.take(page, "keyboard-focus-sign")
    with page.expect_navigation(url=re.compile(r"recorded=\d+")):
        page.keyboard.press("Enter")


def sign_off_the_page(
    page: Any,
    url: str,
    command_label: str,
    fields: dict[str, str],
    key: Path,
    tmp_path: Path,
    capsys: Any,
    *,
    event: str,
    shots: Shots | None = None,
    name: str = "",
) -> int:
    """Send one form on R1.1's page with "sign on my own machine": the page prepares the
    statement (an `action.<event>`) and offers its exact bytes, `inquiry-ledger sign`
    signs them here with the key file and the pasted signature is recorded; return the log
    position reported."""
    page.goto(f"{url}/actions/R1.1")
    form = page.locator("form.sign-form", has=page.get_by_role("heading", name=command_label))
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name=re.compile(r"[Ss]ign on my own machine…$")).click()
    page.wait_for_url(f"{url}/web/off-page")
    for value in fields.values():
        assert value in page.locator("#off-page-facts").inner_text()
    if shots is not None:
        shots.take(page, f"{name}-prepared")
    with page.expect_download() as got:
        page.get_by_role("button", name=re.compile(r"^Download ")).click()
    file_name = got.value.suggested_filename
    assert re.fullmatch(rf"action\.{event}-R1\.1-v\d+\.json", file_name), file_name
    body = tmp_path / file_name
    got.value.save_as(str(body))
    assert page.locator("#off-page-json").text_content().encode() == body.read_bytes()
    signature = cli("sign", str(body), "--key", str(key), capsys=capsys).strip()
    page.get_by_role("textbox", name="Signature").fill(signature)
    with page.expect_navigation(url=re.compile(r"recorded=\d+")):
        page.get_by_role("button", name="Record the signed statement").click()
    message = page.get_by_role("status").filter(has_text="recorded at log position")
    return int(re.search(r"log position (\d+)", message.inner_text()).group(1))  # type: ignore[union-attr]


def sign_on_own_machine(
    browser: Any, site: Deployment, tmp_path: Path, shots: Shots, capsys: Any
) -> None:
    """A council officer whose key is a file on their own machine (never in a browser;
    their lead registered its public half) comments through the page: "Sign on my own
    machine…" prepares the statement, the page offers its exact bytes, `inquiry-ledger
    sign` signs them here and the pasted signature is recorded. The page's script lets
    that form post through untouched."""
    url = site.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, url, site.tokens["ola"])
    page.goto(f"{url}/actions/R1.1")
    form = page.locator("form.sign-form", has=page.get_by_role("heading", name="Comment"))
    assert form.locator("button[data-sign=browser]").count() == 1  # offered, not taken
    text = "Signed on my own machine — naïve ✓"
    position = sign_off_the_page(
        page, url, "Comment", {"Comment": text}, site.key("ola"), tmp_path, capsys,
        event="comment_added", shots=shots, name="off-page",
    )  # fmt: skip
    assert position > 0
    assert "naïve ✓" in page.locator("table.timeline").inner_text()
    assert "Signed on my own machine" in page.locator("table.timeline").inner_text()
    context.close()


def refuse_a_lying_server(page: Any, url: str, shots: Shots) -> None:
    """If the prepared body says something other than the form (here: a sign-off naming
    no evidence), the page refuses to sign it and nothing is appended."""

    def tamper(route: Any) -> None:
        response = route.fetch()
        prepared = response.json()
        prepared["body"]["payload"]["evidence"] = []
        route.fulfill(response=response, json=prepared)

    page.route("**/web/prepare", tamper)
    page.goto(f"{url}/actions/R1.1")
    form = page.locator("form.sign-form", has=page.get_by_role("heading", name="Sign off"))
    form.get_by_role("button", name="Sign off…").click()
    alert = page.get_by_role("alert").filter(has_text="Not signed")
    alert.wait_for()
    assert "evidence named" in alert.inner_text()
    assert page.locator("#review").is_hidden()
    shots.take(page, "refused-mismatched-body")
    page.unroute("**/web/prepare")
    page.goto(f"{url}/actions/R1.1")
    assert "evidence submitted" in page.locator("main dl.facts").first.inner_text()


TRICKY: list[Any] = [
    {"b": 1, "a": 2, "é": 3, "e": 4, "\U0001f600": 5, "\ufb01": 6, "Z": 7},
    'tab\tnewline\nquote"backslash\\ nul\u0000 bell\u0007 del\u007f',
    "\u2028\u2029 non-ASCII: Telford — Wrekin, naïve, 中文, \U0001f44d\U0001f3fd",
    {"nested": [{"z": None, "y": True, "x": False}, [], {}], "n": -(2**53 - 1)},
    {"\U0001f600": "emoji key sorts by UTF-16 units", "\uffff": "BMP max", "\ue000": "PUA"},
    [0, -0, 9007199254740991, "", "\u00e9", "e\u0301"],
]


def test_the_whole_flow_in_a_browser(server: Deployment, tmp_path: Path, capsys: Any) -> None:
    sync_playwright = _require_browser()
    site = server
    url = site.url
    shots = Shots(tmp_path / "screenshots")
    evidence = tmp_path / "terms-of-reference.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% terms of reference\n" + os.urandom(3 * 1024 * 1024))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            pages: dict[str, Any] = {}
            for user, name, role, agency, appointer in USERS:
                # One browser profile per person: each key lives in its own IndexedDB.
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(30_000)
                page = context.new_page()
                if appointer is not None:
                    public_key = make_key(page, url, user)
                    if user == "jo":
                        shots.take(page, "key-page")
                    if user in KEY_FILE_FIRST:
                        # Signed with the key file their appointer registered: the holder
                        # moves to the browser's key (it replaces the file's).
                        code, _, err = site.on_client(
                            *site.as_user(user), "keys", "rotate", user,
                            "--public-key", public_key, "--reason", "signing in my browser",
                        )  # fmt: skip
                        assert code == 0, err
                    else:
                        site.appoint(
                            appointer, user, role, agency, name=name, public_key=public_key
                        )
                if user == "jo":
                    page.goto(f"{url}/signin")
                    shots.take(page, "sign-in")
                sign_in(page, url, site.tokens[user])
                if appointer is None:
                    # The chair signs on their own machine (the charter): no browser key.
                    page.goto(f"{url}/keys")
                    assert page.get_by_role("button", name="Make my signing key").count() == 0
                    assert "inquiry-ledger keys new" in page.locator("main").inner_text()
                pages[user] = page

            jo = pages["jo"]
            jo.goto(f"{url}/keys")  # the key this browser holds is the one registered
            registered = jo.locator("#key-registered")
            registered.wait_for(state="visible")
            assert "is registered to you" in registered.inner_text()
            jo.goto(f"{url}/")
            shots.take(jo, "dashboard-officer")
            act(jo, url, "Start work")
            jo.goto(f"{url}/actions/R1.1")
            shots.take(jo, "action-officer-forms")
            act(
                jo,
                url,
                "Upload evidence",
                {"Description": "Terms of reference", "Date the evidence speaks to": "2023-02-01"},
                file=evidence,
                shots=shots,
                name="upload-done",
            )
            act(jo, url, "Submit the evidence for sign-off")
            time.sleep(1.1)
            past = datetime.now(UTC)
            time.sleep(1.1)
            jo.goto(f"{url}/actions/R1.1")
            assert "Sign off" not in [h.inner_text() for h in jo.locator("form h3").all()]

            sam = pages["sam"]
            refuse_a_lying_server(sam, url, shots)
            position = act(
                sam, url, "Sign off", {"Statement (optional)": "Complete: the group meets"},
                shots=shots, name="agency-sign-off",
            )  # fmt: skip
            assert position > 0
            sign_off_by_keyboard(pages["sig"], url, "Accepted by the SIG", shots)
            chair = pages["kc"]
            chair.goto(f"{url}/actions/R1.1")
            assert chair.locator("#off-page-only").is_visible()
            assert chair.locator("button[data-sign=browser]").count() == 0
            position = sign_off_the_page(
                chair, url, "Sign off", {"Statement (optional)": "Verified independently"},
                site.key("kc"), tmp_path, capsys, event="signed_off", shots=shots,
                name="chair-sign-off",
            )  # fmt: skip
            assert position > 0
            shots.take(chair, "action-verified")
            text = chair.locator("main").inner_text()
            assert "verified" in text and "Verified independently" in text
            assert text.count("signed off") >= 3  # three signed sign-offs in the timeline
            cli("--as", "admin", "checkpoint", capsys=capsys)

            chair.goto(f"{url}/verify")
            chair.get_by_role("button", name="Run verification now").click()
            chair.get_by_text("every check passed").wait_for()
            assert chair.locator("text=✓ Pass").count() == 6
            shots.take(chair, "chair-verification")
            chair.goto(f"{url}/actions/R1.1")
            with chair.expect_download() as got:
                chair.locator("a", has_text="Download").first.click()
            assert Path(got.value.path()).read_bytes() == evidence.read_bytes()

            scrutiny = pages["scrutiny"]
            scrutiny.goto(f"{url}/as-of")
            scrutiny.get_by_label("Date").fill(past.strftime("%Y-%m-%d"))
            scrutiny.get_by_label("Time, UTC (optional)").fill(past.strftime("%H:%M:%S"))
            scrutiny.get_by_role("button", name="Show").click()
            row = scrutiny.locator("tr", has=scrutiny.locator("a", has_text="R1.1")).last
            assert "evidence submitted" in row.inner_text()
            shots.take(scrutiny, "scrutiny-as-of")
            scrutiny.goto(f"{url}/diff")
            scrutiny.get_by_label("From date").fill(past.strftime("%Y-%m-%d"))
            scrutiny.get_by_label("From time, UTC (optional)").fill(past.strftime("%H:%M:%S"))
            scrutiny.get_by_label("To date").fill(datetime.now(UTC).strftime("%Y-%m-%d"))
            scrutiny.get_by_role("button", name="Compare").click()
            changes = scrutiny.locator("section", has_text="Changes").inner_text()
            assert "evidence_submitted" in changes and "verified" in changes
            decisions = scrutiny.locator("section", has_text="Signed decisions").inner_text()
            assert decisions.count("signed off") == 3 and "sam" in decisions
            assert "jo" not in decisions.split()  # jo's entries were all before `past`
            shots.take(scrutiny, "scrutiny-diff")
            assert scrutiny.locator("form.sign-form").count() == 0
            pages["sam"].goto(f"{url}/")
            # the generic words (domain/wording.py): this ledger has signed none of its own
            assert "Verified by the independent chair" in pages["sam"].locator("main").inner_text()
            shots.take(pages["sam"], "dashboard-after")

            # The browser's canonical form is byte for byte the ledger's.
            canonical = scrutiny.evaluate(
                """async (values) => {
                    const m = await import('/static/canonical.js');
                    const out = values.map((v) => m.canonicalize(v));
                    const refused = [];
                    for (const bad of [1.5, '\\ud800', {a: NaN}, 2 ** 53]) {
                        try { m.canonicalize(bad); } catch (e) { refused.push(e.name); }
                    }
                    return {out, refused};
                }""",
                TRICKY,
            )
            expected = [canonical_bytes(v).decode() for v in TRICKY]
            assert canonical["out"] == expected
            assert len(canonical["refused"]) == 4

            sign_on_own_machine(browser, site, tmp_path, shots, capsys)

            # Pages with JavaScript off: everything is there, and the forms sign only on
            # one's own machine (browser signing needs the script).
            plain = browser.new_context(java_script_enabled=False)
            page = plain.new_page()
            sign_in(page, url, site.token("sam"))
            page.goto(f"{url}/actions/R1.1")
            body = page.locator("main").inner_text()
            history = json.loads(cli("history", "R1.1", "--json", capsys=capsys))
            hashes = {e["payload"]["sha256"] for e in history if "sha256" in e["payload"]}
            assert hashes and all(h in body for h in hashes)
            assert "needs JavaScript" in body or "need JavaScript" in body
            comment = page.locator(
                "form.sign-form", has=page.get_by_role("heading", name="Comment")
            )
            assert comment.get_by_role("button", name="Sign on my own machine…").is_visible()
            assert not comment.locator("button[data-sign=browser]").is_visible()
            shots.take(page, "no-javascript-action", audit=False)
            page.goto(f"{url}/")
            assert "By recommendation" in page.locator("main").inner_text()
            plain.close()

            # A browser without Ed25519 is told so plainly.
            old = browser.new_context()
            old.add_init_script(
                """(() => {
                    const real = crypto.subtle.generateKey.bind(crypto.subtle);
                    crypto.subtle.generateKey = (algorithm, ...rest) =>
                        (algorithm && algorithm.name === 'Ed25519')
                            ? Promise.reject(new DOMException('unsupported', 'NotSupportedError'))
                            : real(algorithm, ...rest);
                })();"""
            )
            page = old.new_page()
            page.goto(f"{url}/keys")
            alert = page.get_by_role("alert")
            alert.wait_for()
            assert "cannot make Ed25519 signatures" in alert.inner_text()
            assert page.get_by_role("button", name="Make my signing key").is_disabled()
            shots.take(page, "no-ed25519")
            # Signed in there, the action page says it before any form is filled in.
            sign_in(page, url, site.token("sam"))
            page.goto(f"{url}/actions/R1.1")
            warning = page.get_by_role("alert").filter(has_text="cannot make Ed25519")
            warning.wait_for()
            old.close()
            browser.close()
    finally:
        shots.publish()
    assert not shots.violations, "accessibility (axe-core):\n" + "\n".join(shots.violations)
