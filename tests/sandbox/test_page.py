"""The sandbox page in a real headless Chromium: its layout, its DMs, and the README's pictures.

- Only the message list scrolls, as in Slack: with a long channel the window itself does not
  scroll, and the message box, the user picker and the emulator panel stay on screen, at the
  two common laptop sizes. The list follows new messages unless you scrolled up to read.
- In a narrow window (800x900, a 390x844 phone) the panels stack: the messages, the composer
  and the example chips (wrapped, none cut off) stay in sight; the emulator opens on demand.
- Every emoji the bot sends is drawn: a break-glass card shows no raw `:name:`.
- The DM with the bot shows both sides: what you wrote to it (even before the bot ever wrote
  to you) and what the bot sends you there.
- The screenshots in docs/screenshots/ are taken here, at 1280x720; they are written there
  only with SFVOPI_UPDATE_SCREENSHOTS=1, so a test run leaves the tracked pictures alone.

Every wait is on a condition (playwright's `expect`, `wait_for_function`), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox import Sandbox
from bot.sandbox.slack_workspace import SlackServerError
from bot.slack.blocks import UNDO
from tests.sandbox.browser import needs_browser, open_page, type_command

with contextlib.suppress(ImportError):  # the browser tests skip without it
    from playwright.async_api import Browser, Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

OPS, APPROVALS = "C0OPS", "C0APPROVALS"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
ACTIVE, EPHEMERAL = re.compile(r"\bactive\b"), re.compile(r"\bephemeral\b")
UNLINK = "/sfvopi unlink +918000000001 app_abc123 fraud on this DID, INC-4411"

# Where things are, measured in the page: the window, the message list, the newest message.
LAYOUT = """() => {
  const box = (id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
  };
  const timeline = document.getElementById("timeline");
  const items = timeline.querySelectorAll(".msg");
  const newest = items[items.length - 1];
  const r = newest ? newest.getBoundingClientRect() : null;
  return {
    innerWidth, innerHeight,
    docHeight: document.scrollingElement.scrollHeight,
    docWidth: document.scrollingElement.scrollWidth,
    docTop: document.scrollingElement.scrollTop,
    listScrollHeight: timeline.scrollHeight,
    listClientHeight: timeline.clientHeight,
    listScrollTop: timeline.scrollTop,
    list: box("timeline"),
    input: box("input"), send: box("send-button"), user: box("user"),
    channels: box("channels"), emulator: box("live"),
    newest: r && { top: r.top, bottom: r.bottom, text: newest.textContent },
    count: items.length,
  };
}"""

# The newest message's bottom edge is in sight: inside the message list's box and the window.
NEWEST_IN_VIEW = """(text) => {
  const timeline = document.getElementById("timeline");
  const items = timeline.querySelectorAll(".msg");
  const newest = items[items.length - 1];
  if (!newest || (text && !newest.textContent.includes(text))) return false;
  const r = newest.getBoundingClientRect(), t = timeline.getBoundingClientRect();
  const inList = r.bottom <= t.bottom + 1 && r.bottom > t.top && r.top < t.bottom;
  return inList && r.bottom <= innerHeight;
}"""


async def post_message(
    http: aiohttp.ClientSession, sandbox: Sandbox, user: str, channel: str, text: str
) -> dict[str, Any]:
    """A message through the page's own API, as the page's message box sends it."""
    body = {"user": user, "channel": channel, "text": text}
    async with http.post(f"{sandbox.url}api/message", json=body) as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


def on_screen(box: dict[str, float], layout: dict[str, Any]) -> bool:
    return (
        box["top"] >= 0
        and box["left"] >= 0
        and box["bottom"] <= layout["innerHeight"]
        and box["right"] <= layout["innerWidth"]
    )


async def shoot(page: Page, name: str) -> None:
    """A 1280x720 picture of the page for the README, the mouse parked where it lights nothing;
    saved to docs/screenshots/ only when SFVOPI_UPDATE_SCREENSHOTS=1 asks for new ones."""
    await page.mouse.move(1, 1)
    if os.environ.get("SFVOPI_UPDATE_SCREENSHOTS") != "1":
        await page.screenshot(animations="disabled")
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / name, animations="disabled")


@needs_browser
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1440, 900)])
async def test_only_the_message_list_scrolls(
    browser: Browser, sandbox: Sandbox, http: aiohttp.ClientSession, width: int, height: int
) -> None:
    people = (ALICE, BOB, CAROL)
    for i in range(50):
        text = f"message {i + 1:02d}: checking the DID pool"
        if i % 7 == 0:
            text += "\nsecond line\nthird line"
        await post_message(http, sandbox, people[i % 3], OPS, text)

    async with open_page(browser, sandbox, width, height) as page:
        timeline = page.locator("#timeline")
        await expect(timeline.locator(".msg")).to_have_count(50)
        await page.wait_for_function(NEWEST_IN_VIEW, arg="message 50")
        await assert_fixed_shell(page, 50)

        # A command through the page: its reply lands at the bottom, in sight.
        await type_command(page, "/sfvopi whoami")
        await expect(timeline.locator(".msg").last).to_contain_text("Only visible to you")
        await page.wait_for_function(NEWEST_IN_VIEW, arg="acme")
        await assert_fixed_shell(page, 51)

        # Scrolled up to read: a new message does not pull the list down.
        await page.evaluate("() => { document.getElementById('timeline').scrollTop = 0; }")
        await post_message(http, sandbox, BOB, OPS, "while you were reading")
        await expect(timeline.locator(".msg").last).to_contain_text("while you were reading")
        layout = await page.evaluate(LAYOUT)
        assert layout["listScrollTop"] == 0, layout
        assert not await page.evaluate(NEWEST_IN_VIEW, "while you were reading")

        # Back at the bottom: the next one is followed.
        await page.evaluate(
            "() => { const t = document.getElementById('timeline'); t.scrollTop = t.scrollHeight; }"
        )
        await post_message(http, sandbox, CAROL, OPS, "and one more")
        await page.wait_for_function(NEWEST_IN_VIEW, arg="and one more")
        await assert_fixed_shell(page, 53)


async def assert_fixed_shell(page: Page, count: int) -> None:
    layout = await page.evaluate(LAYOUT)
    assert layout["count"] == count, layout
    # The window does not scroll, either way; the message list does.
    assert layout["docHeight"] <= layout["innerHeight"] + 1, layout
    assert layout["docWidth"] <= layout["innerWidth"] + 1, layout
    assert layout["docTop"] == 0, layout
    assert layout["listScrollHeight"] > layout["listClientHeight"], layout
    assert on_screen(layout["list"], layout), layout
    # What you need at hand is on screen: the message box, Send, who you are, the channels,
    # the emulator panel.
    for part in ("input", "send", "user", "channels", "emulator"):
        assert on_screen(layout[part], layout), (part, layout)
    assert layout["input"]["top"] >= layout["list"]["bottom"] - 1, layout


@needs_browser
async def test_direct_messages_and_screenshots(browser: Browser, sandbox: Sandbox) -> None:
    async with open_page(browser, sandbox, 1280, 720) as page:
        timeline = page.locator("#timeline")
        dm = page.locator("#dms li")
        await page.click("#tour-close")
        await expect(page.locator("#tour")).to_be_hidden()

        # Alice writes to the bot before it ever wrote to her: her message shows.
        await dm.click()
        await expect(page.locator("#channel-title")).to_have_text("sfvopi-bot")
        await expect(dm).to_have_class(ACTIVE)
        await expect(timeline.locator(".empty")).to_contain_text("very beginning of sfvopi-bot")
        await type_command(page, "Hi! Tell me here when my unlink is done, please.")
        mine = timeline.locator(".msg").filter(has_text="Tell me here when my unlink is done")
        await expect(mine).to_have_count(1)
        await expect(mine.locator(".author")).to_have_text("Alice")
        await expect(dm).to_have_class(ACTIVE)
        assert sandbox.slack.snapshot()["dms"][ALICE].startswith("D")

        # Her request, in #ops.
        await page.click(f'#channels li[data-channel="{OPS}"]')
        await type_command(page, UNLINK)
        await expect(timeline.locator(".ephemeral").last).to_contain_text("Request #1")

        # Bob, in #approvals, sees the card waiting for him.
        await page.select_option("#user", BOB)
        await page.click(f'#channels li[data-channel="{APPROVALS}"]')
        card = timeline.locator(".card")
        await expect(card).to_contain_text("Waiting for approval")
        await expect(card.locator('button[data-action-id="sfvopi_approve"]')).to_be_enabled()
        await page.wait_for_function(NEWEST_IN_VIEW, arg="")
        await shoot(page, "approval-pending.png")

        # The bot tells Alice the outcome in her DM. (Should it first try the command's reply
        # link, that link fails here, as after 30 minutes, so the notice is a DM either way.)
        sandbox.slack.fail("response_url", SlackServerError())
        await card.locator('button[data-action-id="sfvopi_approve"]').click()
        await page.click("#view-submit")
        await expect(card).to_contain_text("Done", timeout=15_000)
        # no decision buttons left: Undo alone (the pre-image was read before it ran)
        await expect(card.locator("button")).to_have_count(1)
        await expect(card.locator(f'button[data-action-id="{UNDO}"]')).to_have_count(1)
        await expect(timeline.locator(".thread")).to_contain_text("Request #1 succeeded")
        # the preview's reads (after filing, before running), then the one change
        await expect(page.locator("#calls .call")).to_have_count(3)
        await expect(page.locator("#calls .call", has_text="DELETE")).to_have_count(1)
        # The outcome line in #ops-log is the bot's last word on it: after it, nothing moves.
        await expect(page.locator('#channels li[data-channel="C0OPSLOG"] .badge')).to_have_text("1")
        await page.wait_for_function(NEWEST_IN_VIEW, arg="")
        await shoot(page, "approval-done.png")

        # Bob's DM with the bot is his own: empty.
        await dm.click()
        await expect(page.locator("#channel-title")).to_have_text("sfvopi-bot")
        await expect(timeline.locator(".empty")).to_be_visible()
        await expect(timeline.locator(".msg")).to_have_count(0)

        # Alice's DM: her message and the bot's notice, in order.
        await page.select_option("#user", ALICE)
        await expect(page.locator("#viewing-as")).to_contain_text("Alice")
        await expect(page.locator("#channels .badge")).to_have_count(0)
        messages = timeline.locator(".msg")
        await expect(messages).to_have_count(2)
        await expect(messages.first).to_contain_text("Tell me here when my unlink is done")
        await expect(messages.last.locator(".author")).to_have_text("sfvopi-bot")
        await expect(messages.last).to_contain_text("Your request #1")
        await expect(messages.last).to_contain_text("succeeded")
        await expect(messages.last).not_to_have_class(EPHEMERAL)
        await page.wait_for_function(NEWEST_IN_VIEW, arg="succeeded")
        await shoot(page, "direct-message.png")

    for name in ("approval-pending.png", "approval-done.png", "direct-message.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000, name


@needs_browser
async def test_deny_with_a_reason_and_approve_from_the_home_tab(
    browser: Browser, sandbox: Sandbox
) -> None:
    async with open_page(browser, sandbox, 1280, 720) as page:
        timeline = page.locator("#timeline")
        await page.click("#tour-close")

        # Alice asks twice, in #ops.
        await type_command(page, UNLINK)
        await expect(timeline.locator(".ephemeral").last).to_contain_text("Request #1")
        await type_command(page, "/sfvopi unlink +918000000003 sfv_app_abc123xyz456 second DID")
        await expect(timeline.locator(".ephemeral").last).to_contain_text("Request #2")

        # Bob denies #1 on its card: the bot asks why in a modal.
        await page.select_option("#user", BOB)
        await page.click(f'#channels li[data-channel="{APPROVALS}"]')
        first = timeline.locator(".card").filter(has_text="request #1")
        await first.locator('button[data-action-id="sfvopi_deny"]').click()
        modal = page.locator("#view-modal")
        await expect(modal).to_be_visible()
        await expect(page.locator("#view-title")).to_have_text("Deny request #1")
        await expect(page.locator("#view-body")).to_contain_text("fraud on this DID")
        await page.fill("#view-input", "wrong DID: the fraud was on +918000000002, INC-4412")
        await shoot(page, "deny-with-reason.png")
        await page.click("#view-submit")
        await expect(modal).to_be_hidden()
        await expect(first).to_contain_text("Denied")
        await expect(first).to_contain_text("wrong DID: the fraud was on +918000000002")
        await expect(first.locator("button")).to_have_count(0)

        # Bob's Home tab: #2 waits for him, with the card's own buttons; he approves it there.
        await page.click("#home-tab")
        home = page.locator("#home-view")
        await expect(page.locator("#channel-title")).to_have_text("Home")
        await expect(home).to_contain_text("Waiting for your approval")
        await expect(home).to_contain_text("request #2")
        await expect(home).to_contain_text("Latest decisions")
        await expect(home.locator('button[data-action-id="sfvopi_approve"]')).to_have_count(1)
        await shoot(page, "app-home.png")
        await home.locator('button[data-action-id="sfvopi_approve"]').click()
        await page.click("#view-submit")
        await expect(home).to_contain_text("Nothing waits for you.", timeout=15_000)
        await expect(home).to_contain_text("succeeded")
        # each request's read after filing, #2's read before running, then its one change
        await expect(page.locator("#calls .call")).to_have_count(4)
        unlinked = page.locator("#calls .call", has_text="DELETE")
        await expect(unlinked).to_have_count(1)
        await expect(unlinked).to_contain_text("+918000000003")

        # Alice's Home: her two requests and how each ended.
        await page.select_option("#user", ALICE)
        await expect(home).to_contain_text("Your requests")
        await expect(home).to_contain_text("denied")
        await expect(home.locator("button")).to_have_count(0)

    for name in ("deny-with-reason.png", "app-home.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000, name


# The composer, the message list and the chips, measured in a narrow window.
NARROW = """() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height };
  };
  const chips = document.getElementById("suggestions");
  const rows = new Set([...chips.children].map((c) => Math.round(c.getBoundingClientRect().top)));
  return {
    innerWidth, innerHeight,
    docWidth: document.scrollingElement.scrollWidth,
    docHeight: document.scrollingElement.scrollHeight,
    list: box(document.getElementById("timeline")),
    input: box(document.getElementById("input")),
    send: box(document.getElementById("send-button")),
    chips: { scrollWidth: chips.scrollWidth, clientWidth: chips.clientWidth, rows: rows.size },
    chipBoxes: [...chips.children].map(box),
  };
}"""


@needs_browser
@pytest.mark.parametrize(("width", "height"), [(800, 900), (390, 844)])
async def test_a_narrow_window_keeps_the_messages_and_the_composer(
    browser: Browser, sandbox: Sandbox, http: aiohttp.ClientSession, width: int, height: int
) -> None:
    for i in range(30):
        await post_message(http, sandbox, (ALICE, BOB)[i % 2], OPS, f"message {i + 1:02d}")

    async with open_page(browser, sandbox, width, height) as page:
        await expect(page.locator("#timeline .msg")).to_have_count(30)
        await expect(page.locator("#input")).to_be_visible()
        layout = await page.evaluate(NARROW)
        for part in ("list", "input", "send"):
            assert layout[part]["height"] > 0, (part, layout)
            assert on_screen(layout[part], layout), (part, layout)
        assert layout["list"]["height"] >= 150, layout
        assert layout["docWidth"] <= layout["innerWidth"] + 1, layout
        assert layout["docHeight"] <= layout["innerHeight"] + 1, layout
        # The example chips wrap onto rows, none cut off or scrolled out of sight.
        assert layout["chips"]["scrollWidth"] <= layout["chips"]["clientWidth"] + 1, layout
        assert layout["chips"]["rows"] > 1, layout
        assert all(on_screen(chip, layout) for chip in layout["chipBoxes"]), layout

        # Usable: a command typed here is answered in sight; the emulator opens on demand.
        await type_command(page, "/sfvopi whoami")
        await expect(page.locator("#timeline .msg").last).to_contain_text("Only visible to you")
        await page.wait_for_function(NEWEST_IN_VIEW, arg="acme")
        await expect(page.locator("#apps")).to_be_hidden()
        await page.click("#emulator-toggle")
        await expect(page.locator("#apps")).to_be_visible()
        await expect(page.locator("#input")).to_be_in_viewport()


@needs_browser
async def test_the_tour_is_one_line_until_opened(browser: Browser, sandbox: Sandbox) -> None:
    async with open_page(browser, sandbox, 1280, 720) as page:
        tour = page.locator("#tour")
        box = await tour.bounding_box()
        assert box is not None and box["height"] <= 60, box
        await tour.locator("summary").click()
        await expect(tour.locator("ol")).to_be_visible()
        await page.click("#tour-close")
        await expect(tour).to_be_hidden()


@needs_browser
async def test_a_break_glass_card_shows_no_raw_emoji_codes_and_paths_keep_numbers_whole(
    browser: Browser, sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    text = "/sfvopi unlink +918000000003 sfv_app_abc123xyz456 --break-glass INC-4411 fraud spike"
    async with open_page(browser, sandbox, 1280, 720) as page:
        await page.select_option("#user", "U0DAVE")
        await type_command(page, text)
        await page.select_option("#user", BOB)
        await page.click(f'#channels li[data-channel="{APPROVALS}"]')
        card = page.locator("#timeline .card")
        await expect(card).to_contain_text("Break-glass")
        await expect(card.locator('button[data-action-id="sfvopi_review_flag"]')).to_be_visible()
        await card.locator('button[data-action-id="sfvopi_review_flag"]').click()
        await page.fill("#view-input", "no incident open at that hour")
        await page.click("#view-submit")
        await expect(card).to_contain_text("Flagged by")
        shown = await card.inner_text()
        assert not re.search(r":[a-z_]+:", shown), shown
        assert "\U0001f6a8" in shown and "\U0001f6a9" in shown, shown
        await expect(page.locator("#calls .path .seg", has_text="+918000000003")).to_have_count(1)


def test_the_page_draws_every_emoji_the_bot_sends() -> None:
    """Each `:name:` the bot writes into a message has a drawing or a Unicode character on the
    page, so none shows as raw text there."""
    root = Path(__file__).resolve().parents[2]
    shortcode = re.compile(r"(?<![\w:]):([a-z_]+):(?= )")
    sent = {
        name
        for folder in ("bot", "handlers")
        for source in (root / folder).rglob("*.py")
        if "sandbox" not in source.parts
        for name in shortcode.findall(source.read_text())
    }
    page = (root / "bot" / "sandbox" / "static" / "sandbox.html").read_text()
    assert {"rotating_light", "triangular_flag_on_post", "warning"} <= sent
    drawn = set(re.findall(r"\b([a-z_]+): [`\"c]", page)) | set(re.findall(r"EMOJI\.(\w+) =", page))
    assert sorted(sent - drawn) == []
