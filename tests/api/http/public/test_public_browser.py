"""The public tracker (issue 16) in a real browser: Debian's Chromium driven by Playwright,
against a real `inquiry-ledger serve` with INQUIRY_LEDGER_PUBLIC=on on the demo's ledger
(tests/support/public_tracker.py), whose checkpoints the product's own witness
(`witness serve`) cosigns.

The module's one server is set up once: the demo's seeded history, an officer with a
personal name who blocks an action and keeps a comment and an evidence file; the server
signs a checkpoint of that (N1), which the witness cosigns; then the witness stops, one
more comment is appended and the server signs N2, which no witness saw. So every page is
built from N2 and proves, with a consistency proof, that the cosigned N1 is its prefix.

What is proved here, each by the page's own verdict (#verification[data-verdict]):
  - a reader who pins the keys, by keyboard alone, gets "verified", naming the witness
    and when it cosigned; without pins, "unpinned"; a pinned witness that never cosigned,
    or a wrong pinned log key, "failed" naming it;
  - every edit an attacker can make to the page in transit (playwright's page.route) —
    the checkpoint, a cosignature, an inclusion proof, an entry's bytes, a fact in the
    view or in the HTML, a fact moved to another action, the consistency proof — is
    reported by the page as "failed" with a message naming what failed, while the same
    route passing the page on unaltered gives "verified";
  - axe-core finds no WCAG 2.2 AA violation on any public page (verdicts included); tags
    carry their status in words; every page works by keyboard, skip link first, with a
    visible focus;
  - and (no browser needed) no public page or JSON carries a directory name, a comment
    or an evidence file's name or description.

Without /usr/bin/chromium or Playwright the browser tests are skipped locally with a
message, and fail in CI (CI=true), as tests/api/http/pages/test_web_e2e.py's do.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from api.application.demo import TELFORD_WORDS
from api.http.public.routes import status_words
from ledger.auditor.cosignature import Cosigner
from ledger.auditor.note import NoteSigner, sign_note, split_note
from ledger.keys import KeyPair
from tests.support.browser import AXE_OPTIONS, CHROMIUM, CHROMIUM_ARGS
from tests.support.browser import require_browser as _require_browser
from tests.support.public_tracker import (
    LATE_COMMENT,
    OFFICER,
    OFFICER_ACTION,
    OFFICER_COMMENT,
    OFFICER_FILE,
    OFFICER_NAME,
    OFFICER_REASON,
    PINS,
    WITNESS_NAME,
    Seeded,
    Tamper,
    cli,
    cosignature_time,
    decoded_entries,
    edit_entry,
    entry_of,
    fact_of,
    flip_base64,
    flip_root,
    flip_signature,
    get,
    get_json,
    in_item,
    proofs_in,
    reads_as,
    seed,
    wait_for,
    witness_process,
)
from tests.support.server import running_server

#: WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG22_AA = {**AXE_OPTIONS, "runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
]}}  # fmt: skip
#: A witness the reader pins though it never cosigned anything of this log.
OTHER_WITNESS = "scrutiny.inquiry.example"
REC = "/public/recommendations/{}"
VERDICT_SETTLED = "document.getElementById('verification').dataset.verdict !== 'pending'"


@dataclass(frozen=True)
class Site:
    url: str
    seeded: Seeded
    witness_vkey: str
    cosigned: int  # N1: the newest checkpoint a witness cosigned
    newest: int  # N2: the checkpoint every page is built from
    cosigned_at: int  # the witness's time on N1 (Unix seconds)

    @property
    def origin(self) -> str:
        return self.seeded.origin

    @property
    def log_vkey(self) -> str:
        return self.seeded.log_vkey

    def pins(self, *witnesses: str) -> dict[str, Any]:
        return {"log": self.log_vkey, "witnesses": list(witnesses)}

    def json(self, path: str) -> Any:
        """A page's view and proof material, as its JSON twin serves them."""
        return get_json(self.url + json_twin(path))


def json_twin(path: str) -> str:
    """The JSON twin of a public page: /public/v1/plan for /public, else /public/v1/..."""
    return "/public/v1/plan" if path == "/public" else path.replace("/public/", "/public/v1/", 1)


def _checkpoints(url: str) -> tuple[int, int | None]:
    proofs = get_json(f"{url}/public/v1/plan")["proofs"]
    cosigned = proofs["cosigned"]
    return proofs["checkpoint"]["tree_size"], cosigned and cosigned["tree_size"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("public-tracker")
    home = folder / "home"
    with pytest.MonkeyPatch.context() as env, ExitStack() as witness_up:
        for name in list(os.environ):
            if name.startswith("INQUIRY_LEDGER_"):
                env.delenv(name)
        seeded = seed(home, folder)
        witness = witness_up.enter_context(witness_process(folder / "witness", seeded.log_vkey))
        witnesses = folder / "witnesses.txt"
        witnesses.write_text(f"{witness.url} {witness.vkey}\n")
        server_env = {
            "INQUIRY_LEDGER_HOME": str(home),
            "INQUIRY_LEDGER_PUBLIC": "on",
            "INQUIRY_LEDGER_WITNESSES": str(witnesses),
            "INQUIRY_LEDGER_CHECKPOINT_INTERVAL": "0.5",
        }
        with running_server(server_env) as url:
            status, body = get(f"{url}/public/v1/keys")
            assert status == 200, f"with a witness configured, /public/v1/keys: {status} {body}"
            assert json.loads(body)["witnesses"] == [witness.vkey]
            n1 = seeded.size

            def probe() -> tuple[int, int | None]:
                return _checkpoints(url)

            wait_for(f"checkpoint {n1}, cosigned", probe, lambda at: at == (n1, n1))
            witness_up.close()  # the witness stops: the next checkpoint goes uncosigned
            cli(
                folder / "client-home",
                "--server", url, "--token", seeded.officer_token,
                "--as", OFFICER, "--key", str(seeded.officer_key),
                "act", OFFICER_ACTION, "comment", LATE_COMMENT,
            )  # fmt: skip
            n2, _ = wait_for("a later checkpoint", probe, lambda at: at[0] > n1 and at[1] == n1)
            note = get_json(f"{url}/public/v1/plan")["proofs"]["cosigned"]["note"]
            yield Site(url, seeded, witness.vkey, n1, n2, cosignature_time(note, WITNESS_NAME))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def reader(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    """`reader(pins)`: a new page in a browser profile of its own whose localStorage holds
    `pins` (None: nothing pinned). Any uncaught script error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(pins: dict[str, Any] | None = None) -> Any:
        stored = [{"name": PINS, "value": json.dumps(pins)}] if pins is not None else []
        state = {"cookies": [], "origins": [{"origin": site.url, "localStorage": stored}]}
        context = browser.new_context(storage_state=state)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


@dataclass(frozen=True)
class Verdict:
    verdict: str
    text: str
    details: list[str]


def verdict_of(page: Any, site: Site, path: str) -> Verdict:
    """Open `path` and wait for the page's own check to finish; what it says."""
    page.goto(site.url + path)
    page.wait_for_function(VERDICT_SETTLED)
    status = page.locator("#verification")
    details = page.locator("#verification-details li").all_inner_texts()
    return Verdict(str(status.get_attribute("data-verdict")), status.inner_text().strip(), details)


def stored_pins(page: Any) -> Any:
    return json.loads(page.evaluate(f"localStorage.getItem({json.dumps(PINS)}) || 'null'"))


# -- keyboard ----------------------------------------------------------------------------

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  return {
    html: e.outerHTML.slice(0, 120),
    key: e.id || e.getAttribute("href") || e.textContent.trim(),
    focusVisible: e.matches(":focus-visible"),
    styled: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none",
    onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0
      && r.left < innerWidth && r.top < innerHeight,
  };
}"""
FOCUSABLE = """() => [...document.querySelectorAll(
  "a[href], button, input, textarea, select, [tabindex]:not([tabindex='-1'])")]
  .filter((e) => !e.disabled && e.getClientRects().length)
  .map((e) => e.id || e.getAttribute("href") || e.textContent.trim())"""


def focused(page: Any) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.evaluate(FOCUSED)
    if found is not None:
        assert found["focusVisible"] and found["styled"], f"focus not visible: {found['html']}"
        assert found["onScreen"], f"focused but off screen: {found['html']}"
    return found


def tab_to(page: Any, selector: str, *, backward: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab) until `selector` has the focus, each stop's focus visible."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backward else "Tab")
        focused(page)
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached by keyboard")


NO_MOUSE = """addEventListener("mousedown", () => localStorage.setItem("mouse-used", "yes"), true);
addEventListener("pointerdown", () => localStorage.setItem("mouse-used", "yes"), true);"""


def test_without_pins_the_page_is_checked_against_the_stated_keys_and_says_unpinned(
    reader: Callable[..., Any], site: Site
) -> None:
    said = verdict_of(reader(), site, REC.format(10))
    assert said.verdict == "unpinned", said
    assert said.text.startswith(f"Verified against checkpoint {site.newest}")
    assert said.text.endswith("(keys not pinned)")
    assert any(d.startswith("No keys are pinned in this browser") for d in said.details)


def test_pinning_the_log_key_by_keyboard_alone_makes_the_page_verified(
    reader: Callable[..., Any], site: Site
) -> None:
    page = reader()
    page.add_init_script(NO_MOUSE)
    page.goto(f"{site.url}/public/keys")
    stated = page.locator("#stated-log-key").inner_text().strip()
    assert stated == site.log_vkey  # the key this server states is the log's own
    submit = "#pin-form button[type=submit]"
    # A mistyped key is refused and nothing is pinned.
    tab_to(page, "#pin-log")
    page.keyboard.type("not-a-key")
    tab_to(page, submit)
    page.keyboard.press("Enter")
    assert page.locator("#pin-status").inner_text() == "Not pinned: not a key: not-a-key."
    assert stored_pins(page) is None
    # The key as the reader reads it from the chair's publication, typed in.
    tab_to(page, "#pin-log", backward=True)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(stated)
    tab_to(page, submit)
    page.keyboard.press("Enter")
    assert page.locator("#pin-status").inner_text() == "Keys are pinned in this browser."
    assert stored_pins(page) == site.pins()

    said = verdict_of(page, site, REC.format(10))
    assert said.verdict == "verified", said
    assert said.text == f"Verified against checkpoint {site.newest}."
    assert "Checked against the keys you pinned." in said.details

    # Forgetting them (Space on the button) makes the page unpinned again.
    page.goto(f"{site.url}/public/keys")
    tab_to(page, "#pin-clear")
    page.keyboard.press("Space")
    assert page.locator("#pin-status").inner_text() == "No keys are pinned in this browser."
    assert stored_pins(page) is None
    assert verdict_of(page, site, REC.format(10)).verdict == "unpinned"
    assert page.evaluate("localStorage.getItem('mouse-used')") is None


def test_a_pinned_witness_names_who_cosigned_and_when(
    reader: Callable[..., Any], site: Site
) -> None:
    page = reader()
    page.add_init_script(NO_MOUSE)
    page.goto(f"{site.url}/public/keys")
    stated = page.locator(".stated-witness-key").all_inner_texts()
    assert stated == [site.witness_vkey]
    tab_to(page, "#pin-stated")
    page.keyboard.press("Space")
    assert page.locator("#pin-status").inner_text().startswith("Filled in the keys this server")
    assert page.input_value("#pin-log") == site.log_vkey
    assert page.input_value("#pin-witnesses") == site.witness_vkey
    tab_to(page, "#pin-form button[type=submit]", backward=True)
    page.keyboard.press("Enter")
    assert page.locator("#pin-status").inner_text() == "Keys are pinned in this browser."
    assert stored_pins(page) == site.pins(site.witness_vkey)

    when = reads_as(site.cosigned_at)
    for number in (10, int(OFFICER_ACTION[1:].split(".")[0])):
        said = verdict_of(page, site, REC.format(number))
        assert said.verdict == "verified", said
        assert said.text == (
            f"Verified against checkpoint {site.newest}, cosigned by {WITNESS_NAME} at {when}."
        )
        assert (
            f"The witnesses cosigned checkpoint {site.cosigned}; checkpoint {site.newest} "
            "extends it (consistency proof checked)."
        ) in said.details
    assert page.evaluate("localStorage.getItem('mouse-used')") is None


def test_pinning_a_witness_that_never_cosigned_fails_naming_it(
    reader: Callable[..., Any], site: Site
) -> None:
    other = Cosigner(OTHER_WITNESS, KeyPair.generate()).public.encode()
    for witnesses in ([site.witness_vkey, other], [other]):
        said = verdict_of(reader(site.pins(*witnesses)), site, REC.format(10))
        assert said.verdict == "failed", said
        assert said.text == (
            f"Verification failed: witness {OTHER_WITNESS} has not cosigned checkpoint "
            f"{site.cosigned}."
        )
        assert said.details == ["Do not rely on this page. Tell the inquiry's chair."]


def test_a_wrong_pinned_log_key_fails(reader: Callable[..., Any], site: Site) -> None:
    """Pins made with another valid log key: of the same name, or of another name."""
    for name in (site.origin, "other.example/log"):
        wrong = NoteSigner(name, KeyPair.generate()).verifier.encode()
        said = verdict_of(reader({"log": wrong, "witnesses": []}), site, REC.format(10))
        assert said.verdict == "failed", said
        assert said.text == (
            f"Verification failed: the checkpoint is not signed by the pinned log key {name}."
        )
    # The same page, with the right key pinned, in the same run.
    assert verdict_of(reader(site.pins()), site, REC.format(10)).verdict == "verified"


# -- tampering in transit ------------------------------------------------------------------


def route(page: Any, url: str, tamper: Tamper) -> dict[str, Any]:
    """Pass the server's answer for `url` through `tamper` on its way to the page; the
    returned dict says whether the HTML changed (set once the page has loaded), or why
    the edit could not be made (then the page gets the answer unaltered)."""
    seen: dict[str, Any] = {}

    def handle(intercepted: Any) -> None:
        response = intercepted.fetch()
        original = altered = response.text()
        try:
            altered = tamper.apply(original)
        except Exception as error:  # reported by the test, not lost in playwright's log
            seen["edit failed"] = repr(error)
        else:
            seen["changed"] = altered != original
        intercepted.fulfill(response=response, body=altered)

    page.route(url, handle)
    return seen


@dataclass(frozen=True)
class Case:
    path: str
    tamper: Tamper
    says: str  # the page's message, after "Verification failed: "
    pins: bool = True  # the reader pinned the log's and the witness's keys


def _first(site: Site, path: str, type_name: str, **shown: Any) -> dict[str, Any]:
    """The first fact of `type_name` on the page whose shown members match `shown`."""
    for fact in site.json(path)["view"]["entries"]:
        if fact["type"] == type_name and all(fact["shown"].get(k) == v for k, v in shown.items()):
            return dict(fact)
    raise AssertionError(f"no {type_name} {shown} on {path}")


def _rating(site: Site) -> dict[str, Any]:
    return _first(site, REC.format(10), "action.rag_rated", reason="monthly self-assessment")


def _case_checkpoint_signature(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        checkpoint = found["proofs"]["checkpoint"]
        checkpoint["note"] = flip_signature(checkpoint["note"], site.origin, 4 + 17)

    return Case(
        REC.format(10), Tamper(proofs), "the log key's signature on the checkpoint is not valid"
    )


def _case_checkpoint_body(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        checkpoint = found["proofs"]["checkpoint"]
        checkpoint["note"] = flip_root(checkpoint["note"])

    return Case(
        REC.format(10), Tamper(proofs), "the log key's signature on the checkpoint is not valid"
    )


def _case_checkpoint_size(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        found["proofs"]["checkpoint"]["tree_size"] += 1

    return Case(
        REC.format(10), Tamper(proofs), "the checkpoint's size is not the one the page names"
    )


def _resigned(note: str, forger: NoteSigner) -> str:
    """The note with the log's signature line replaced by `forger`'s (same name), any
    cosignature lines kept: they sign the body, which is unchanged."""
    text, _ = split_note(note)
    mine = f"\u2014 {forger.name} "
    others = [line for line in note.split("\n\n")[-1].splitlines() if not line.startswith(mine)]
    return sign_note(text, forger) + "".join(line + "\n" for line in others)


def _case_checkpoint_resigned(site: Site, *, pins: bool) -> Case:
    """The server signs its checkpoints with a key of its own and states that key."""
    forger = NoteSigner(site.origin, KeyPair.generate())

    def proofs(found: dict[str, Any]) -> None:
        for note in ("checkpoint", "cosigned"):
            found["proofs"][note]["note"] = _resigned(found["proofs"][note]["note"], forger)
        found["keys"]["log"] = forger.verifier.encode()

    return Case(
        REC.format(10),
        Tamper(proofs),
        f"the checkpoint is not signed by the pinned log key {site.origin}",
        pins=pins,
    )


def _case_cosignature(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        cosigned = found["proofs"]["cosigned"]
        cosigned["note"] = flip_signature(cosigned["note"], WITNESS_NAME, 4 + 8 + 20)

    return Case(
        REC.format(10), Tamper(proofs), f"the cosignature of witness {WITNESS_NAME} is not valid"
    )


def _case_inclusion_node(site: Site) -> Case:
    leaf = _rating(site)["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        proof = entry_of(found, leaf)["proof"]
        proof[2] = flip_base64(proof[2], 31)

    return Case(
        REC.format(10),
        Tamper(proofs),
        f"log entry {leaf} is not in the log at checkpoint {site.newest}",
    )


def _case_inclusion_shortened(site: Site) -> Case:
    leaf = _rating(site)["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        entry_of(found, leaf)["proof"].pop()

    return Case(
        REC.format(10),
        Tamper(proofs),
        f"log entry {leaf} is not in the log at checkpoint {site.newest}",
    )


LIE = "independently audited"


def _case_entry_bytes(site: Site) -> Case:
    leaf = _rating(site)["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        edit_entry(found, leaf, '"reason":"monthly self-assessment"', f'"reason":"{LIE}"')

    return Case(
        REC.format(10),
        Tamper(proofs),
        f"log entry {leaf} is not in the log at checkpoint {site.newest}",
    )


def _case_entry_fact_and_text_agree(site: Site) -> Case:
    """The entry's bytes, the view's fact and the HTML all tell the same lie: only the
    inclusion proof can catch it."""
    leaf = _rating(site)["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        edit_entry(found, leaf, '"reason":"monthly self-assessment"', f'"reason":"{LIE}"')
        fact_of(found, leaf)["shown"]["reason"] = LIE

    def dom(text: str) -> str:
        return in_item(text, leaf, ">monthly self-assessment<", f">{LIE}<")

    return Case(
        REC.format(10),
        Tamper(proofs, dom),
        f"log entry {leaf} is not in the log at checkpoint {site.newest}",
    )


def _case_reason_in_html(site: Site) -> Case:
    leaf = _rating(site)["leaf_index"]

    def dom(text: str) -> str:
        return in_item(text, leaf, ">monthly self-assessment<", f">{LIE}<")

    return Case(
        REC.format(10),
        Tamper(dom=dom),
        f"the reason shown for log entry {leaf} is not what the entry says",
    )


def _case_reason_in_view(site: Site) -> Case:
    leaf = _rating(site)["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        fact_of(found, leaf)["shown"]["reason"] = LIE

    return Case(
        REC.format(10), Tamper(proofs), f"log entry {leaf}: its reason is not what the page shows"
    )


def _returned(site: Site) -> tuple[int, dict[str, Any]]:
    for number in (7, 8, 6, 20, 31, 36):
        found = site.json(REC.format(number))
        for fact in found["view"]["entries"]:
            if fact["type"] == "action.returned" and fact["shown"]["reasons"]:
                return number, fact
    raise AssertionError("no return with reasons in the demo")


def _case_return_reasons_in_html(site: Site) -> Case:
    number, fact = _returned(site)
    leaf, reason = fact["leaf_index"], fact["shown"]["reasons"][0]

    def dom(text: str) -> str:
        return in_item(text, leaf, f">{html.escape(reason)}<", ">the evidence is complete<")

    return Case(
        REC.format(number),
        Tamper(dom=dom),
        f"the reasons shown for log entry {leaf} is not what the entry says",
    )


def _case_type_in_html(site: Site) -> Case:
    number, fact = _returned(site)
    leaf = fact["leaf_index"]

    def dom(text: str) -> str:
        shown = '<strong data-field="type">{}</strong>'
        return in_item(text, leaf, shown.format("returned"), shown.format("signed off"))

    return Case(
        REC.format(number),
        Tamper(dom=dom),
        f"log entry {leaf} is shown as signed off, but it is a action.returned",
    )


def _stamp(timestamp: str) -> str:
    """A signed timestamp as the page reads it (the `stamp` filter), without " UTC"."""
    return timestamp[:19].replace("T", " ")


def _case_time_in_html(site: Site) -> Case:
    fact = _rating(site)
    leaf, stamp = fact["leaf_index"], _stamp(fact["timestamp"])
    earlier = f"{int(stamp[:4]) - 1}{stamp[4:]}"

    def dom(text: str) -> str:
        return in_item(text, leaf, f">{stamp} UTC<", f">{earlier} UTC<")

    return Case(
        REC.format(10), Tamper(dom=dom), f"the time shown for log entry {leaf} is not the entry's"
    )


def _case_time_in_view(site: Site) -> Case:
    fact = _rating(site)
    leaf, signed = fact["leaf_index"], fact["timestamp"]
    earlier = f"{int(signed[:4]) - 1}{signed[4:]}"

    def proofs(found: dict[str, Any]) -> None:
        fact_of(found, leaf)["timestamp"] = earlier

    return Case(
        REC.format(10), Tamper(proofs), f"log entry {leaf} is dated {signed}, not {earlier}"
    )


def _case_status_in_html(site: Site) -> Case:
    def dom(text: str) -> str:
        old = '<dl class="summary-list" data-action="R10.1" data-status="verified">'
        assert old in text
        return text.replace(old, old.replace("verified", "accepted"))

    return Case(
        REC.format(10),
        Tamper(dom=dom),
        "the status shown for R10.1 is not what its latest decision says",
    )


def _moved(site: Site) -> tuple[int, str, str]:
    """An agency's sign-off on recommendation 1: its leaf, its action, and another action
    of the same page it is moved to."""
    fact = _first(site, REC.format(1), "action.signed_off", level="agency")
    actions = [a["action_id"] for a in site.json(REC.format(1))["view"]["actions"]]
    to = next(a for a in actions if a != fact["subject"])
    return fact["leaf_index"], fact["subject"], to


def _move_item(text: str, leaf: int, was: str, to: str) -> str:
    """Decision `leaf`'s item says it is about `to` (data-subject), and reads so."""
    head = f'<li data-leaf="{leaf}" data-subject="{{}}"'
    assert head.format(was) in text
    text = text.replace(head.format(was), head.format(to))
    return in_item(text, leaf, f'data-field="subject">{was}<', f'data-field="subject">{to}<')


def _case_moved_in_view_and_html(site: Site) -> Case:
    leaf, was, to = _moved(site)

    def proofs(found: dict[str, Any]) -> None:
        fact_of(found, leaf)["subject"] = to

    def dom(text: str) -> str:
        return _move_item(text, leaf, was, to)

    return Case(REC.format(1), Tamper(proofs, dom), f"log entry {leaf} is not about {to}")


def _case_moved_in_html(site: Site) -> Case:
    """Only the HTML's data-subject (and what it reads) says another action."""
    leaf, was, to = _moved(site)

    def dom(text: str) -> str:
        return _move_item(text, leaf, was, to)

    return Case(REC.format(1), Tamper(dom=dom), f"log entry {leaf} is not about {to}")


def _case_subject_text_in_html(site: Site) -> Case:
    leaf, was, to = _moved(site)

    def dom(text: str) -> str:
        return in_item(text, leaf, f'data-field="subject">{was}<', f'data-field="subject">{to}<')

    return Case(REC.format(1), Tamper(dom=dom), f"log entry {leaf} is shown on {to}, not on {was}")


def _case_entry_of_another_action(site: Site) -> Case:
    """R10.1's verification by the chair swapped for R2.1's: a real entry with a valid
    proof, saying the same words, but about another action."""
    ours = _first(site, REC.format(10), "action.signed_off", level="chair")
    other_page = site.json(REC.format(2))
    theirs = _first(site, REC.format(2), "action.signed_off", level="chair")
    assert theirs["shown"] == ours["shown"] and theirs["subject"] != ours["subject"]
    mine, leaf = ours["leaf_index"], theirs["leaf_index"]

    def proofs(found: dict[str, Any]) -> None:
        fact = fact_of(found, mine)
        fact.update(leaf_index=leaf, timestamp=theirs["timestamp"])
        found["proofs"]["entries"] = [
            entry_of(other_page, leaf) if e["leaf_index"] == mine else e
            for e in found["proofs"]["entries"]
        ]

    def dom(text: str) -> str:
        was, now = ours["timestamp"], theirs["timestamp"]
        text = in_item(text, mine, f'datetime="{was}"', f'datetime="{now}"')
        text = in_item(text, mine, f">{_stamp(was)} UTC<", f">{_stamp(now)} UTC<")
        return text.replace(f'<li data-leaf="{mine}"', f'<li data-leaf="{leaf}"')

    return Case(
        REC.format(10), Tamper(proofs, dom), f"log entry {leaf} is not about {ours['subject']}"
    )


def _rewritten(site: Site) -> str:
    return (
        f"the cosigned checkpoint {site.cosigned} is not a prefix of checkpoint "
        f"{site.newest}: the log was rewritten"
    )


def _case_consistency_node(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        consistency = found["proofs"]["cosigned"]["consistency"]
        consistency[0] = flip_base64(consistency[0], 7)

    return Case(
        REC.format(10),
        Tamper(proofs),
        _rewritten(site),
    )


def _case_consistency_dropped(site: Site) -> Case:
    def proofs(found: dict[str, Any]) -> None:
        found["proofs"]["cosigned"]["consistency"] = []

    return Case(
        REC.format(10),
        Tamper(proofs),
        _rewritten(site),
    )


CASES: dict[str, Callable[[Site], Case]] = {
    # (a) the checkpoint note
    "checkpoint-signature-byte": _case_checkpoint_signature,
    "checkpoint-body-root-byte": _case_checkpoint_body,
    "checkpoint-size-claimed": _case_checkpoint_size,
    "checkpoint-resigned-with-stated-key": lambda s: _case_checkpoint_resigned(s, pins=True),
    "witness-cosignature-byte": _case_cosignature,
    # (b) an inclusion proof
    "inclusion-proof-node": _case_inclusion_node,
    "inclusion-proof-shortened": _case_inclusion_shortened,
    # (c) an entry's own bytes
    "entry-reason-changed": _case_entry_bytes,
    "entry-fact-and-text-tell-one-lie": _case_entry_fact_and_text_agree,
    # (d) a fact shown otherwise than its entry says
    "reason-in-html": _case_reason_in_html,
    "reason-in-view": _case_reason_in_view,
    "return-reasons-in-html": _case_return_reasons_in_html,
    "decision-type-in-html": _case_type_in_html,
    "time-in-html": _case_time_in_html,
    "time-in-view": _case_time_in_view,
    "action-status-in-html": _case_status_in_html,
    # (e) a fact moved to another action
    "moved-in-view-and-html": _case_moved_in_view_and_html,
    "moved-in-html-data-subject": _case_moved_in_html,
    "subject-text-in-html": _case_subject_text_in_html,
    "entry-of-another-action": _case_entry_of_another_action,
    # (g) the consistency proof from the cosigned checkpoint
    "consistency-proof-node": _case_consistency_node,
    "consistency-proof-dropped": _case_consistency_dropped,
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_page_itself_reports_a_page_altered_in_transit(
    name: str, reader: Callable[..., Any], site: Site
) -> None:
    case = CASES[name](site)
    page = reader(site.pins(site.witness_vkey) if case.pins else None)
    seen = route(page, site.url + case.path, case.tamper)
    said = verdict_of(page, site, case.path)
    assert seen == {"changed": True}  # the edit really altered what the page received
    assert said.verdict == "failed", said
    assert said.text == f"Verification failed: {case.says}."
    assert said.details == ["Do not rely on this page. Tell the inquiry's chair."]


@pytest.mark.parametrize("path", [REC.format(10), REC.format(1), REC.format(7), "/public"])
def test_an_unaltered_page_passes_through_the_same_route(
    path: str, reader: Callable[..., Any], site: Site
) -> None:
    """The control for the cases above: the same interception, re-serialising the page's
    JSON, changes no byte, and the page verifies, so a failure there is the edit's."""
    page = reader(site.pins(site.witness_vkey))
    seen = route(page, site.url + path, Tamper())
    said = verdict_of(page, site, path)
    assert seen == {"changed": False}
    assert said.verdict == "verified", said
    assert said.text.startswith(f"Verified against checkpoint {site.newest}, cosigned by")


def test_unpinned_a_checkpoint_resigned_with_the_key_the_server_states_passes(
    reader: Callable[..., Any], site: Site
) -> None:
    """Why pins matter: without them the page can only check the server against the key
    that server states, so a re-signed checkpoint passes as "unpinned" (and says so), while
    the pinned reader's page fails (case checkpoint-resigned-with-stated-key)."""
    case = _case_checkpoint_resigned(site, pins=False)
    page = reader(None)
    seen = route(page, site.url + case.path, case.tamper)
    said = verdict_of(page, site, case.path)
    assert seen == {"changed": True}
    assert said.verdict == "unpinned", said
    assert said.text.endswith("(keys not pinned)")


# -- accessibility and keyboard -------------------------------------------------------------

PAGES = [
    "/public",
    REC.format(10),
    REC.format(1),
    "/public/agencies/council",
    "/public/keys",
    REC.format(99),  # the 404 page
]


def _tags_say_their_status(page: Any) -> None:
    tags = page.evaluate(
        "() => [...document.querySelectorAll('.tag')].map((e) => [e.className, e.innerText.trim()])"
    )
    for classes, text in tags:
        status = next(c.removeprefix("tag-") for c in classes.split() if c.startswith("tag-"))
        # the demo's ledger has signed Telford's words (domain/wording.py)
        said = "Overdue" if status == "overdue" else status_words(status, TELFORD_WORDS)
        assert text == said, (classes, text)


AXE_CASES = [
    *((path, "unpinned") for path in PAGES),
    # The verdict's other states, each its own colour and words.
    (REC.format(10), "pinned"),
    (REC.format(10), "failed"),
]


@pytest.mark.parametrize(("path", "pins"), AXE_CASES)
def test_axe_finds_no_wcag_22_aa_violation(
    path: str, pins: str, reader: Callable[..., Any], site: Site
) -> None:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    wrong = {"log": NoteSigner(site.origin, KeyPair.generate()).verifier.encode(), "witnesses": []}
    keys = {"unpinned": None, "pinned": site.pins(site.witness_vkey), "failed": wrong}[pins]
    page = reader(keys)
    response = page.goto(site.url + path)
    missing = "no-such" in path or path.endswith("/99")
    assert response.status == (404 if missing else 200)
    if missing:
        assert page.locator("h1").inner_text() == "Not found"
    elif path != "/public/keys":
        page.wait_for_function(VERDICT_SETTLED)
        verdict = page.locator("#verification")
        expected = {"unpinned": "unpinned", "pinned": "verified", "failed": "failed"}[pins]
        assert verdict.get_attribute("data-verdict") == expected
        # The verdict is in words, not only in the box's colour.
        assert verdict.inner_text().startswith(
            "Verification failed" if pins == "failed" else "Verified against checkpoint"
        )
    _tags_say_their_status(page)
    violations = [
        f"{v['id']} ({v['help']}): " + "; ".join(n["html"][:120] for n in v["nodes"][:3])
        for v in Axe().run(page, options=WCAG22_AA).response["violations"]
    ]
    assert violations == []


@pytest.mark.parametrize("path", PAGES)
def test_every_page_works_by_keyboard_skip_link_first_focus_visible(
    path: str, reader: Callable[..., Any], site: Site
) -> None:
    page = reader(site.pins(site.witness_vkey))
    page.goto(site.url + path)
    page.keyboard.press("Tab")
    first = focused(page)
    assert first is not None and first["key"] == "#main", first  # the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    # Every focusable element, in order, each with its focus visible.
    wanted = page.evaluate(FOCUSABLE)
    reached = [first["key"]]
    for _ in range(len(wanted) + 3):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is None or now["key"] == "#main":
            break
        reached.append(now["key"])
    assert reached == wanted
    # The skip link moves the focus to the content, and the next Tab stays inside it.
    page.goto(site.url + path)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
    focused(page)


def test_the_tracker_is_usable_by_keyboard_alone(reader: Callable[..., Any], site: Site) -> None:
    """From the plan to an agency, to one of its actions, to the keys page, and from the
    404 page back to the plan, by Tab and Enter only."""
    page = reader(site.pins(site.witness_vkey))
    page.add_init_script(NO_MOUSE)
    page.goto(f"{site.url}/public")
    tab_to(page, "a[href='/public/agencies/council']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/public/agencies/council")
    tab_to(page, f"a[href$='#{OFFICER_ACTION}']")
    page.keyboard.press("Enter")
    number = OFFICER_ACTION[1:].split(".")[0]
    page.wait_for_url(f"{site.url}{REC.format(number)}#{OFFICER_ACTION}")
    page.wait_for_function(VERDICT_SETTLED)
    assert page.locator("#verification").get_attribute("data-verdict") == "verified"
    tab_to(page, "nav a[href='/public/keys']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/public/keys")
    page.goto(f"{site.url}{REC.format(99)}")
    tab_to(page, "main a[href='/public']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/public")
    assert page.evaluate("localStorage.getItem('mouse-used')") is None


# -- no personal data ---------------------------------------------------------------------


def _public_paths(site: Site) -> list[str]:
    plan = site.json("/public")["view"]
    pages = [
        "/public",
        "/public/keys",
        *(REC.format(r["number"]) for r in plan["recommendations"]),
        *(f"/public/agencies/{a}" for a in plan["agencies"]),
    ]
    twins = [json_twin(p) for p in pages]
    missing = [REC.format(99), "/public/agencies/no-such-agency", "/public/v1/recommendations/99"]
    return pages + twins + missing


def test_no_public_page_or_json_carries_personal_data(site: Site) -> None:
    """No name from the directory, no comment, no evidence file's name or description, in
    any public page, its JSON, or the entries' own bytes the pages publish."""
    private = site.seeded.private
    for needle in (OFFICER_NAME, OFFICER_COMMENT, OFFICER_FILE, LATE_COMMENT):
        assert needle in private
    assert "Please set out how survivors were consulted." in private  # the demo's challenge
    assert len(private) > 20
    texts: dict[str, str] = {}
    for path in _public_paths(site):
        status, body = get(site.url + path)
        assert status == (404 if path.endswith(("/99", "no-such-agency")) else 200), path
        texts[path] = html.unescape(body)
        if path.startswith("/public/v1/") and status == 200:
            found = json.loads(body)
            if "proofs" not in found:  # /public/v1/keys
                continue
        elif 'id="public-proofs"' in body:
            found = proofs_in(body)
        else:
            continue
        texts[path + " (JSON)"] = json.dumps(found, ensure_ascii=False)
        texts[path + " (entries)"] = json.dumps(decoded_entries(found), ensure_ascii=False)
    leaks = [(path, p) for path, text in texts.items() for p in private if p in text]
    assert leaks == []
    # The scan sees the officer's public decision: it is there, by her role alone.
    officer_page = texts[REC.format(OFFICER_ACTION[1:].split(".")[0])]
    assert OFFICER_REASON in officer_page and "by the officer of Council" in officer_page
