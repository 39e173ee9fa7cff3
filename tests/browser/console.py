#!/usr/bin/env python3
"""Drives Centralino's staff console in headless Chromium, through a chromedriver that
tests/browser.rs started, and reports what it saw as JSON lines on standard output: the Rust
test asserts on them (this script waits for pages, it judges nothing).

    console.py --console URL --webdriver URL --screenshots DIR --profile DIR \
        [--account NAME:PASSWORD] [--value KEY=VALUE ...] SCENARIO [SCENARIO ...]

Each scenario is a function below, registered with @scenario and run by its name, in the
order given, each from a browser without cookies. What a line says:

    {"scenario": "login", "check": "wrong.alert", "value": "Nome o password non corretti."}
    {"scenario": "live_calls", "signal": "call"}   the test must answer "call" on stdin
    {"scenario": "login", "screenshot": "/…/login-1-form.png"}
    {"scenario": "login", "passed": true}           the function returned
    {"scenario": "login", "error": "Traceback …"}   it raised (a screenshot of the moment too)

Exit code: 0 when every scenario returned, 1 when one raised, 2 for a usage mistake or a
scenario that does not exist. How to add a page's scenario: README.md beside this file.
"""

import argparse
import json
import os
import sys
import time
import traceback
from urllib.parse import urlparse

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

SCENARIOS = {}


def scenario(function):
    """Registers `function(browser)` as the scenario of its name."""
    SCENARIOS[function.__name__] = function
    return function


class Browser:
    """One Chromium session on the console, and the words a scenario needs: open a path,
    log in, wait, read, report, screenshot, hand over to the test."""

    def __init__(self, driver, console, screenshots, account, values):
        self.driver = driver
        self.console = console.rstrip("/")
        self.screenshots = screenshots
        self.account = account
        self.values = values
        self.scenario = None
        self.shots = 0

    # ---------------------------------------------------------------- talking to the test

    def emit(self, **fields):
        print(json.dumps({"scenario": self.scenario, **fields}), flush=True)

    def report(self, check, value):
        """Says what was seen; the Rust test asserts on `value` by (scenario, check)."""
        self.emit(check=check, value=value)

    def signal(self, name, timeout=90):
        """Tells the test `name` and waits until it answers the same word on stdin (it
        places a call, ends one, changes the store, ...)."""
        self.emit(signal=name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = sys.stdin.readline()
            if not line:
                raise RuntimeError(f"stdin closed while waiting for the test's `{name}`")
            if line.strip() == name:
                return
        raise RuntimeError(f"the test did not answer `{name}`")

    def screenshot(self, step):
        """Saves the window as SCREENSHOTS/<scenario>-<n>-<step>.png, for review."""
        self.shots += 1
        path = os.path.join(self.screenshots, f"{self.scenario}-{self.shots}-{step}.png")
        self.driver.save_screenshot(path)
        self.emit(screenshot=path)
        return path

    # ---------------------------------------------------------------- the page

    def open(self, path):
        self.driver.get(self.console + path)

    def path(self):
        return urlparse(self.driver.current_url).path

    def find(self, css):
        """The first element matching `css`, or None."""
        try:
            return self.driver.find_element(By.CSS_SELECTOR, css)
        except NoSuchElementException:
            return None

    @staticmethod
    def settled(read, tries=5):
        """`read()` again when a page that updates itself replaced what it was reading."""
        for _ in range(tries - 1):
            try:
                return read()
            except StaleElementReferenceException:
                time.sleep(0.1)
        return read()

    def text(self, css):
        """The visible text of the first element matching `css`, or None."""
        def read():
            element = self.find(css)
            return element.text if element is not None else None
        return self.settled(read)

    def texts(self, css):
        """The visible texts of every element matching `css`."""
        return self.settled(
            lambda: [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)]
        )

    def attribute(self, css, name):
        def read():
            element = self.find(css)
            return element.get_attribute(name) if element is not None else None
        return self.settled(read)

    def table(self, css):
        """The rows of the table `css` as {header: cell text}, or None without the table."""
        def read():
            if self.find(css) is None:
                return None
            headers = [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, f"{css} thead th")]
            rows = []
            for row in self.driver.find_elements(By.CSS_SELECTOR, f"{css} tbody tr"):
                cells = [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
                rows.append(dict(zip(headers, cells)))
            return rows
        return self.settled(read)

    def wait(self, condition, timeout=20, reload=False, every=0.25):
        """Waits until `condition()` is truthy (reloading the page between looks when
        `reload`); its value, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = condition()
            except WebDriverException:
                value = None
            if value:
                return value
            if time.monotonic() >= deadline:
                return None
            time.sleep(every)
            if reload:
                self.driver.refresh()

    def click(self, css):
        """Clicks the first element matching `css` (a button submits its form) and waits for
        the next page."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, css).click()
        self.wait(lambda: self.stale(old), timeout=20)

    def stale(self, element):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    def response_status(self):
        """The HTTP status of the page now shown (Navigation Timing)."""
        return self.driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return n ? n.responseStatus : null;"
        )

    def cookie(self, name):
        """The value of cookie `name` (HttpOnly ones too), or None."""
        found = self.driver.get_cookie(name)
        return found["value"] if found else None

    def log_in(self, name=None, password=None):
        """Fills and sends the login form as a person would."""
        default_name, default_password = self.account
        self.open("/login")
        self.find("#name").clear()
        self.find("#name").send_keys(name or default_name)
        self.find("#password").send_keys(password or default_password)
        self.click("form[action='/login'] button[type=submit]")

    # ---------------------------------------------------------------- typing and reading (browser2)

    def caret(self, css, needle, where="after"):
        """Gives the text field `css` the focus with its caret after the first `needle` in its
        value (`where="before"`: before it; `"select"`: `needle` selected, so typing replaces
        it), as a click there would. Raises when `needle` is not in the field."""
        found = self.driver.execute_script(
            "const [area, needle, where] = arguments;"
            "const at = area.value.indexOf(needle);"
            "if (at < 0) { return false; }"
            "const end = at + needle.length;"
            "area.focus();"
            "if (where === 'select') { area.setSelectionRange(at, end); }"
            "else { const p = where === 'before' ? at : end; area.setSelectionRange(p, p); }"
            "return true;",
            self.find(css), needle, where,
        )
        if not found:
            raise RuntimeError(f"{needle!r} is not in {css}")

    def press(self, *keys):
        """Types `keys` (text, or selenium's `Keys`) into the element that has the focus, one
        key press at a time, as a person at the keyboard."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def line_of(self, css, needle):
        """The 1-based line of the first `needle` in the value of the text field `css`."""
        return self.driver.execute_script(
            "const [area, needle] = arguments;"
            "const at = area.value.indexOf(needle);"
            "return at < 0 ? null : area.value.substring(0, at).split('\\n').length;",
            self.find(css), needle,
        )

    def selected(self, css):
        """The text selected in the text field `css`."""
        return self.driver.execute_script(
            "const area = arguments[0];"
            "return area.value.substring(area.selectionStart, area.selectionEnd);",
            self.find(css),
        )

    def tables(self, css="table"):
        """Every table matching `css`, by id, as rows of {header: cell} where the cells are a
        row's `th` and `td` both (a row's own heading counts)."""
        return self.settled(lambda: self.driver.execute_script(
            "const found = {};"
            "for (const table of document.querySelectorAll(arguments[0])) {"
            "  const heads = [...table.querySelectorAll('thead th')].map(h => h.innerText.trim());"
            "  found[table.id] = [...table.querySelectorAll('tbody tr')].map(row => {"
            "    const cells = [...row.querySelectorAll('th, td')].map(c => c.innerText.trim());"
            "    return Object.fromEntries(heads.map((h, i) => [h, cells[i]]));"
            "  });"
            "}"
            "return found;",
            css,
        ))


# -------------------------------------------------------------------- scenarios
# Each one starts without cookies. Report what a person would see; the Rust test decides.


@scenario
def login(b):
    """The console sends strangers to the login form; a wrong password is said so and opens
    no session; the right one opens the live calls page."""
    b.open("/")
    b.report("anonymous.path", b.path())
    b.report("anonymous.heading", b.text("h2"))
    b.screenshot("form")
    b.log_in(password="not-the-password")
    b.report("wrong.path", b.path())
    b.report("wrong.status", b.response_status())
    b.report("wrong.alert", b.text("[role=alert]"))
    b.report("wrong.name_kept", b.attribute("#name", "value"))
    b.report("wrong.session_cookie", b.cookie("centralino_session"))
    b.screenshot("wrong-password")
    b.open("/")
    b.report("wrong.then_home.path", b.path())
    b.log_in()
    b.report("right.path", b.path())
    b.report("right.heading", b.text("h2"))
    b.report("right.who", b.text("header span"))
    b.report("right.session_cookie", b.cookie("centralino_session") is not None)
    b.screenshot("logged-in")


@scenario
def live_calls(b):
    """A call appears in the live calls table while it lasts and leaves it when it ends.
    Signals `call` (the test places one and answers once the server accepted it)."""
    b.log_in()
    b.report("before", b.wait(lambda: b.text("#no-calls"), reload=True))
    b.screenshot("no-calls")
    b.signal("call")
    # Does the page show it without being reloaded (a poll or server-sent events)?
    b.report("updated_by_itself", b.wait(lambda: b.find("#calls"), timeout=8) is not None)
    rows = b.wait(lambda: b.table("#calls"), timeout=30, reload=True)
    b.report("during.rows", rows)
    b.screenshot("in-a-call")
    b.report("after", b.wait(lambda: b.text("#no-calls"), timeout=90, reload=True))
    b.report("after.ended", b.text("#ended"))
    b.screenshot("call-ended")


@scenario
def language(b):
    """The switch in the header shows the console in English, and back in Italian."""
    b.log_in()

    def seen(prefix):
        b.report(f"{prefix}.lang", b.attribute("html", "lang"))
        b.report(f"{prefix}.heading", b.text("h2"))
        b.report(f"{prefix}.nav", b.texts("nav a"))
        b.report(f"{prefix}.switch", b.text("form[action='/lang'] button"))
        b.report(f"{prefix}.logout", b.text("form[action='/logout'] button"))
        b.report(f"{prefix}.empty", b.text("#no-calls"))

    seen("it")
    b.click("form[action='/lang'] button")
    b.report("en.path", b.path())
    seen("en")
    b.screenshot("english")
    b.click("form[action='/lang'] button")
    seen("back")
    b.screenshot("italian")


@scenario
def csrf(b):
    """Forms whose hidden csrf field a script removed are refused (403) and change nothing:
    the language switch, then log out."""
    b.log_in()
    for form in ("lang", "logout"):
        b.open("/")
        b.driver.execute_script(
            f"document.querySelector(\"form[action='/{form}'] input[name=csrf]\").remove();"
        )
        b.report(f"{form}.fields_left", b.driver.execute_script(
            f"return [...document.querySelectorAll(\"form[action='/{form}'] input\")]"
            ".map(i => i.name);"
        ))
        b.click(f"form[action='/{form}'] button")
        b.report(f"{form}.status", b.response_status())
        b.report(f"{form}.body", b.text("body"))
        b.screenshot(f"{form}-without-token")
    b.open("/")
    b.report("after.path", b.path())
    b.report("after.lang", b.attribute("html", "lang"))


@scenario
def tour(b):
    """Every page in the navigation, in Italian then in English: what it answered, its
    heading, and the short texts a missing word would show as its key (headings, table
    headers, labels, buttons, links). A screenshot of each."""
    b.log_in()
    for lang in ("it", "en"):
        if b.attribute("html", "lang") != lang:
            b.click("form[action='/lang'] button")
        links = [
            (link.get_attribute("href"), link.text)
            for link in b.driver.find_elements(By.CSS_SELECTOR, "nav a")
        ]
        b.report(f"{lang}.nav", [text for _, text in links])
        for href, text in links:
            b.driver.get(href)
            path = b.path()
            b.report(f"{lang}.page", {
                "nav": text,
                "path": path,
                "status": b.response_status(),
                "lang": b.attribute("html", "lang"),
                "heading": b.text("h2"),
                "words": b.texts("h1, h2, h3, th, label, button, nav a, legend, caption"),
            })
            slug = path.strip("/").replace("/", "-") or "home"
            b.screenshot(f"{lang}-{slug}")


@scenario
def logout(b):
    """Log out ends the session: the login form, no cookie, and the browser's back button
    does not bring the page back."""
    b.log_in()
    b.click("form[action='/logout'] button")
    b.report("path", b.path())
    b.report("session_cookie", b.cookie("centralino_session"))
    b.screenshot("logged-out")
    b.driver.back()
    time.sleep(0.5)
    b.report("back.path", b.path())
    b.report("back.heading", b.text("h2"))
    b.screenshot("back-button")
    b.driver.refresh()
    b.report("back.reloaded.path", b.path())
    b.open("/")
    b.report("home.path", b.path())


# -------------------------------------------------------------------- tickets, callbacks, web chat
# (browser1's block.) These scenarios log in as the operator the test made (value
# `operator` = NAME:PASSWORD), not as the supervisor.

PAGE_ERRORS_JS = """
(function () {
  function keep(text) {
    try {
      var seen = JSON.parse(sessionStorage.getItem("centralinoPageErrors") || "[]");
      seen.push(location.pathname + ": " + text);
      sessionStorage.setItem("centralinoPageErrors", JSON.stringify(seen));
    } catch (e) {}
  }
  window.addEventListener("error", function (e) { keep(String(e.message)); });
  window.addEventListener("unhandledrejection", function (e) { keep(String(e.reason)); });
})();
"""


def watch_page_errors(b):
    """From now on every page of this browser keeps its script errors and unhandled promise
    rejections (in the tab's sessionStorage); `page_errors(b)` reads them."""
    b.driver.command_executor.add_command(
        "executeCdpCommand", "POST", "/session/$sessionId/goog/cdp/execute"
    )
    b.driver.execute("executeCdpCommand", {
        "cmd": "Page.addScriptToEvaluateOnNewDocument",
        "params": {"source": PAGE_ERRORS_JS},
    })


def page_errors(b):
    return b.driver.execute_script(
        "return JSON.parse(sessionStorage.getItem('centralinoPageErrors') || '[]');"
    )


def log_in_as_operator(b):
    name, _, password = b.values["operator"].partition(":")
    b.log_in(name, password)


def choose(b, css, value):
    """Picks the option `value` of the <select> `css`, as a person would."""
    from selenium.webdriver.support.select import Select
    Select(b.find(css)).select_by_value(value)


def type_into(b, css, text):
    field = b.find(css)
    field.clear()
    field.send_keys(text)


def history(b):
    """The ticket page's history as (who, what, text) rows."""
    return [
        [row.get("Chi"), row.get("Cosa"), row.get("")]
        for row in (b.table("#history") or [])
    ]


@scenario
def ticket_close(b):
    """An operator finds the ticket `ticket` with the list's filter (category `category`,
    open), opens it, comments on it (`comment`) and closes it (`note`); then finds it among
    the closed ones."""
    reference = b.values["ticket"]
    log_in_as_operator(b)
    b.click("nav a[href='/tickets']")
    b.report("list.path", b.path())
    b.report("list.references", [row["Numero"] for row in b.table("#tickets") or []])
    b.screenshot("list")
    choose(b, "#filter select[name=category]", b.values["category"])
    choose(b, "#filter select[name=status]", "open")
    b.click("#filter button[type=submit]")
    b.report("filtered.url", b.driver.current_url.removeprefix(b.console))
    b.report("filtered.rows", b.table("#tickets"))
    b.report("filtered.category_kept", b.attribute("#filter select[name=category]", "value"))
    b.screenshot("filtered")
    b.click(f"#tickets a[href='/tickets/{reference}']")
    b.report("ticket.path", b.path())
    b.report("ticket.reference", b.text("#reference"))
    b.report("ticket.status", b.text("#status"))
    b.report("ticket.history", history(b))
    b.report("ticket.notes", b.texts("main p.muted"))
    b.screenshot("ticket")
    type_into(b, "#comment-text", b.values["comment"])
    b.click("#comment button[type=submit]")
    b.report("commented.path", b.path())
    b.report("commented.status", b.text("#status"))
    b.report("commented.history", history(b))
    b.report("commented.comment_box", b.attribute("#comment-text", "value"))
    b.screenshot("commented")
    type_into(b, "#close-note", b.values["note"])
    b.click("#close button[type=submit]")
    b.report("closed.path", b.path())
    b.report("closed.status", b.text("#status"))
    b.report("closed.history", history(b))
    b.report("closed.problem", b.text("#problem"))
    b.report("closed.forms", b.driver.execute_script(
        "return [...document.querySelectorAll('main form')].map(f => f.id);"
    ))
    b.screenshot("closed")
    b.click("a[href='/tickets']")
    choose(b, "#filter select[name=status]", "closed")
    b.click("#filter button[type=submit]")
    b.report("closed_list.rows", b.table("#tickets"))
    b.screenshot("closed-list")


@scenario
def callback_reschedule(b):
    """An operator opens the pending callback `callback` from the callbacks list, moves it to
    `at` (put in the page's date and time field), then asks for it to be called now if the
    page offers it, and closes it with the note `close_note`. Signals `rescheduled` after the
    move (the test reads the store)."""
    reference = b.values["callback"]
    log_in_as_operator(b)
    b.click("nav a[href='/callbacks']")
    b.report("list.rows", b.table("#callbacks"))
    b.report("list.late", b.text("#late-count"))
    b.screenshot("list")
    b.click(f"#callbacks a[href='/callbacks/{reference}']")
    b.report("before.path", b.path())
    b.report("before.state", b.text("#state"))
    b.report("before.next", b.text("#next"))
    b.report("before.field.type", b.attribute("#reschedule-at", "type"))
    b.report("before.field.suggested", b.attribute("#reschedule-at", "value"))
    b.report("before.buttons", b.texts("main form button"))
    b.report("before.no_dialer", b.text("#no-dialer"))
    b.screenshot("callback")
    # A datetime-local field takes typed digits in the browser's locale order; set its value
    # (the form's wire format) the way the picker does, then send the form by its button.
    b.driver.execute_script(
        "const f = document.querySelector('#reschedule-at');"
        "f.value = arguments[0];"
        "f.dispatchEvent(new Event('input', {bubbles: true}));"
        "f.dispatchEvent(new Event('change', {bubbles: true}));",
        b.values["at"],
    )
    b.report("typed.value", b.attribute("#reschedule-at", "value"))
    b.click("#reschedule button[type=submit]")
    b.report("moved.path", b.path())
    b.report("moved.status", b.response_status())
    b.report("moved.state", b.text("#state"))
    b.report("moved.next", b.text("#next"))
    b.report("moved.problem", b.text("#problem"))
    b.screenshot("rescheduled")
    b.click("a[href='/callbacks']")
    b.report("moved.list.rows", b.table("#callbacks"))
    b.screenshot("list-rescheduled")
    b.signal("rescheduled")
    b.click(f"#callbacks a[href='/callbacks/{reference}']")
    # "Call now" where a dialer runs; without one the page says it and the operator, having
    # called by hand, closes the request.
    if b.find("#call-now"):
        b.click("#call-now button[type=submit]")
        b.report("now.state", b.text("#state"))
        b.report("now.next", b.text("#next"))
        b.report("now.problem", b.text("#problem"))
        b.screenshot("call-now")
    type_into(b, "#close-note", b.values["close_note"])
    b.click("#close button[type=submit]")
    b.report("closed.path", b.path())
    b.report("closed.status", b.response_status())
    b.report("closed.state", b.text("#state"))
    b.report("closed.next", b.text("#next"))
    b.report("closed.closed", b.text("#closed"))
    b.report("closed.forms", b.driver.execute_script(
        "return [...document.querySelectorAll('main form')].map(f => f.id);"
    ))
    b.report("closed.problem", b.text("#problem"))
    b.screenshot("closed")


def navigation_type(b):
    """How the page now shown was reached: "navigate" (a link, a form's post and redirect)
    or "reload" (the chat's script reloads when the flow asks for something new)."""
    return b.driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return n ? n.type : null;"
    )


def chat_polls(b):
    """How many times the page now shown asked /chat/view."""
    return b.driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => new URL(e.name).pathname === '/chat/view').length;"
    )


def chat_messages(b):
    return b.texts("#messages li")


@scenario
def webchat_ticket(b):
    """A citizen (no login) opens /chat, starts with a phone number (`phone`), presses the
    menu's button 6, types the file number (`file`) and reads the ticket's reference in the
    chat; then the operator logs in and finds that ticket in the tickets list and opens it.
    Script errors of the pages are kept and reported."""
    watch_page_errors(b)
    b.open("/chat")
    b.report("start.status", b.response_status())
    b.report("start.title", b.text("h1"))
    b.report("start.button", b.text("form[action='/chat/start'] button"))
    b.screenshot("start")
    type_into(b, "#phone", b.values["phone"])
    b.click("form[action='/chat/start'] button[type=submit]")
    b.report("menu.path", b.path())
    buttons = b.wait(lambda: b.texts(".buttons button"))
    b.report("menu.messages", chat_messages(b))
    b.report("menu.buttons", buttons)
    b.screenshot("menu")
    # The page's script sends the button with fetch and reloads when the flow asks for
    # something else (here: digits).
    b.click(".buttons button[value='6']")
    field = b.wait(lambda: b.find("#text"), timeout=20)
    b.report("digits.field", field is not None)
    b.report("digits.navigation", navigation_type(b))
    b.report("digits.label", b.text("label[for=text]"))
    b.report("digits.messages", chat_messages(b))
    b.report("digits.script_errors", page_errors(b))
    b.screenshot("digits")
    type_into(b, "#text", b.values["file"])
    b.click("form[action='/chat/say'] button[type=submit]")
    said = b.wait(
        lambda: [t for t in chat_messages(b) if t.startswith("Segnalazione registrata")],
        timeout=20,
    )
    b.report("done.confirmation", said[0] if said else None)
    b.report("done.navigation", navigation_type(b))
    b.report("done.messages", chat_messages(b))
    b.report("done.answer", b.text("#answer"))
    b.report("done.script_errors", page_errors(b))
    b.screenshot("reference")
    # The conversation is over: the page has nothing more to ask the server (its poll every
    # 2 s would find the chat gone once it stops lingering).
    time.sleep(4.5)
    b.report("done.polls_after_over", chat_polls(b))
    # The reference as the citizen reads it: the word after "numero".
    reference = None
    if said:
        words = said[0].replace(".", " ").split()
        if "numero" in words and words.index("numero") + 1 < len(words):
            reference = words[words.index("numero") + 1]
    b.report("done.reference", reference)

    b.driver.delete_all_cookies()
    log_in_as_operator(b)
    b.click("nav a[href='/tickets']")
    b.report("console.rows", b.table("#tickets"))
    b.screenshot("console-tickets")
    if reference:
        b.click(f"#tickets a[href='/tickets/{reference}']")
        b.report("console.ticket.reference", b.text("#reference"))
        b.report("console.ticket.fields", {
            row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
            for row in b.driver.find_elements(By.CSS_SELECTOR, "#fields tr")
        })
        b.report("console.ticket.collected", {
            row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
            for row in b.driver.find_elements(By.CSS_SELECTOR, "#collected tr")
        })
        b.report("console.ticket.call_link", b.attribute("#call a", "href"))
        b.screenshot("console-ticket")
    b.report("console.script_errors", page_errors(b))

    # A supervisor may read the call log: the ticket's call is a link to the chat's record.
    if reference and "supervisor" in b.values:
        b.driver.delete_all_cookies()
        name, _, password = b.values["supervisor"].partition(":")
        b.log_in(name, password)
        b.open(f"/tickets/{reference}")
        b.report("supervisor.channel", b.text("#channel"))
        link = b.attribute("#call a", "href")
        b.report("supervisor.call_link", link and link.removeprefix(b.console))
        if link:
            b.click("#call a")
            b.report("supervisor.call.status", b.response_status())
            b.report("supervisor.call.rows", {
                row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
                for row in b.driver.find_elements(By.CSS_SELECTOR, "table#call tr")
            })
            b.screenshot("supervisor-call")


@scenario
def webchat_gone(b):
    """The chat ends under the citizen's page: it leaves it idle past the server's idle
    timeout; then, in a new chat, its cookie is lost and a button is pressed. Each time the
    page should come back to the start form by itself, without a script error."""
    watch_page_errors(b)
    b.open("/chat")
    b.click("form[action='/chat/start'] button[type=submit]")
    b.report("idle.buttons", b.texts(".buttons button"))
    b.screenshot("idle-menu")
    start = b.wait(lambda: b.find("form[action='/chat/start']"), timeout=30)
    b.report("idle.start_form", start is not None)
    b.report("idle.buttons_after", b.texts(".buttons button"))
    b.report("idle.script_errors", page_errors(b))
    b.screenshot("idle-after")

    b.click("form[action='/chat/start'] button[type=submit]")
    b.report("lost.buttons", b.texts(".buttons button"))
    b.driver.delete_cookie("centralino_chat")
    b.report("lost.cookie", b.cookie("centralino_chat"))
    button = b.find(".buttons button[value='6']")
    if button is not None:
        try:
            button.click()
        except WebDriverException:
            pass  # the page went back to the start form first (its poll found no chat)
    start = b.wait(lambda: b.find("form[action='/chat/start']"), timeout=30)
    b.report("lost.start_form", start is not None)
    b.report("lost.script_errors", page_errors(b))
    b.screenshot("lost-after")
# -------------------------------------------------------------------- browser2: editor, reports


def diagnostics_shown(b):
    """The diagnostics the editor shows: line, kind[code], where, message and help of each."""
    return b.settled(lambda: b.driver.execute_script(
        "return [...document.querySelectorAll('#diagnostics li.diagnostic')].map(li => {"
        "  const text = css => { const e = li.querySelector(css); return e ? e.innerText.trim() : null; };"
        "  return { line: li.dataset.line, kind: text('strong'), at: text('a.goto'),"
        "           message: text('.message'), help: text('.help') };"
        "});"
    ))


@scenario
def editor_fix(b):
    """A flow editor opens the file from the flows page and breaks it by typing (a `goto` to a
    state that does not exist): the diagnostic appears by itself, at its line, with its code
    and help; its line link selects the line. Then, still typing, a first state that plays
    `values[sound]` and new words for the welcome (`values[old_words]` -> `values[words]`),
    and the mistake undone last: the check says no problem; publish; the new version is shown
    on the editor and on the versions page."""
    b.log_in(b.values["name"], b.values["password"])
    b.open("/flows")
    b.report("before.version", b.text("#current-version"))
    b.click("#files a")
    b.report("editor.path", b.path())
    b.report("editor.heading", b.text("h2"))
    b.screenshot("opened")

    # The mistake, typed: `5 -> prenota` becomes `5 -> prenotaz`.
    b.caret("#text", "5 -> prenota")
    b.press("z")
    shown = b.wait(lambda: diagnostics_shown(b), timeout=30)
    b.report("broken.path", b.path())
    b.report("broken.typed_line", b.line_of("#text", "5 -> prenotaz"))
    b.report("broken.summary", b.text("#check-summary"))
    b.report("broken.diagnostics", shown)
    b.screenshot("error-as-you-type")
    b.find("#diagnostics a.goto").click()
    b.report("broken.goto_selects", b.selected("#text"))

    # The fix, typed: a first state with the sound, the welcome's new words, the `z` away.
    b.caret("#text", "  menu: menu", where="before")
    b.press(f'  benvenuto: say file "{b.values["sound"]}" -> menu', Keys.ENTER)
    b.caret("#text", b.values["old_words"], where="select")
    b.press(b.values["words"])
    b.caret("#text", "5 -> prenotaz")
    b.press(Keys.BACKSPACE)
    # Only the last key press makes the text whole: the first answer without diagnostics is
    # the check of the final text (or the wait ends and the test reads what was left).
    b.wait(lambda: b.text("#check-summary") and not diagnostics_shown(b), timeout=30)
    b.report("fixed.summary", b.text("#check-summary"))
    b.report("fixed.diagnostics", diagnostics_shown(b))
    b.screenshot("fixed")

    b.click("#publish")
    b.report("published.path", b.path())
    b.report("published.status", b.response_status())
    b.report("published.notice", b.text("#notice"))
    b.report("published.text_has_words", b.values["words"] in (b.find("#text").get_attribute("value") or ""))
    b.screenshot("published")
    b.open("/flows")
    b.report("after.version", b.text("#current-version"))
    b.report("after.current_row", b.text("#versions tr.current"))
    b.report("after.record", b.table("#record"))
    b.screenshot("versions")


@scenario
def reports_glance(b):
    """A supervisor opens the reports from the navigation and reads the glance section (the
    counters, the offices that did not answer, the late callbacks) and every table."""
    b.log_in()
    b.click("nav a[href='/reports']")
    b.report("path", b.path())
    b.report("status", b.response_status())
    b.report("heading", b.text("h2"))
    for counter in ("calls", "contained", "contained-percent", "put-through",
                    "person-not-reached", "abandoned"):
        b.report(f"glance.{counter}", b.text(f"#glance-{counter}"))
    b.report("glance.unanswered", b.texts("#unanswered-offices li"))
    b.report("glance.unanswered_none", b.text("#unanswered-offices-none"))
    b.report("glance.late", b.texts("#late-callbacks-list li"))
    b.report("glance.late_none", b.text("#late-callbacks-none"))
    b.report("glance.text", b.text("section[aria-labelledby=glance]"))
    b.screenshot("glance")
    b.report("tables", b.tables("table[id^=table-]"))
    b.driver.execute_script("document.getElementById('title-offices').scrollIntoView();")
    b.screenshot("offices")
    b.driver.execute_script("document.getElementById('title-callbacks').scrollIntoView();")
    b.screenshot("callbacks")


@scenario
def editor_broken_file(b):
    """The flow file was saved broken elsewhere (its reload failed, the old version serves):
    the versions page says so with the diagnostics; the editor opens the file with its error
    shown at once; the flow editor removes the mistake (`values[typo]`'s last character) by a
    key press; the check says no problem; publish; the versions page says the reload worked."""
    b.log_in(b.values["name"], b.values["password"])
    b.open("/flows")
    b.report("before.last", b.text("#last-reload"))
    b.report("before.diagnostics", b.text("#reload-diagnostics"))
    b.report("before.version", b.text("#current-version"))
    b.screenshot("reload-failed")
    b.click("#files a")
    b.report("opened.summary", b.text("#check-summary"))
    b.report("opened.diagnostics", diagnostics_shown(b))
    b.report("opened.typo_line", b.line_of("#text", b.values["typo"]))
    b.screenshot("opened-broken")
    b.caret("#text", b.values["typo"])
    b.press(Keys.BACKSPACE)
    b.wait(lambda: b.text("#check-summary") and not diagnostics_shown(b), timeout=30)
    b.report("fixed.summary", b.text("#check-summary"))
    b.screenshot("fixed")
    b.click("#publish")
    b.report("published.status", b.response_status())
    b.report("published.notice", b.text("#notice"))
    b.open("/flows")
    b.report("after.last", b.text("#last-reload"))
    b.report("after.diagnostics", b.text("#reload-diagnostics"))
    b.report("after.version", b.text("#current-version"))
    b.screenshot("versions")


# -------------------------------------------------------------------- running them


def chromium(webdriver_url, profile):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    # An Italian member of staff's browser: the console follows Accept-Language (Italian first
    # anyway), and headless Chromium would otherwise ask for English.
    options.add_experimental_option("prefs", {"intl.accept_languages": "it-IT,it"})
    driver = webdriver.Remote(command_executor=webdriver_url, options=options)
    driver.set_window_size(1280, 900)
    driver.set_page_load_timeout(30)
    return driver


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", required=True, help="the console's URL")
    parser.add_argument("--webdriver", required=True, help="chromedriver's URL")
    parser.add_argument("--screenshots", required=True, help="where PNGs go")
    parser.add_argument("--profile", required=True, help="an empty directory for Chromium")
    parser.add_argument("--account", default="admin:admin-pw", help="NAME:PASSWORD")
    parser.add_argument("--value", action="append", default=[], help="KEY=VALUE for scenarios")
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    arguments = parser.parse_args()
    unknown = [name for name in arguments.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)} (known: {', '.join(sorted(SCENARIOS))})")
    name, _, password = arguments.account.partition(":")
    values = dict(value.partition("=")[::2] for value in arguments.value)
    os.makedirs(arguments.screenshots, exist_ok=True)

    driver = chromium(arguments.webdriver, arguments.profile)
    b = Browser(driver, arguments.console, arguments.screenshots, (name, password), values)
    failed = False
    try:
        for name in arguments.scenarios:
            b.scenario, b.shots = name, 0
            for old in os.listdir(arguments.screenshots):
                if old.startswith(f"{name}-") and old.endswith(".png"):
                    os.remove(os.path.join(arguments.screenshots, old))
            driver.delete_all_cookies()
            try:
                SCENARIOS[name](b)
                b.emit(passed=True)
            except Exception:  # reported to the test, which fails with it
                failed = True
                b.emit(error=traceback.format_exc())
                try:
                    b.screenshot("failure")
                except WebDriverException:
                    pass
    finally:
        driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
