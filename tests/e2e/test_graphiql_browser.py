"""GraphiQL in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven by Selenium), offline.

The browser resolves no host name but 127.0.0.1 and sends everything else to a dead proxy, so a page that
loaded anything from a CDN would stay on "Loading…". `make test` installs the browser when it is missing
(scripts/install-browser.sh); without it this test skips on a developer's machine and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def browser_binaries() -> tuple[str, str] | None:
    browser = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver = shutil.which(DRIVER)
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    """The test app served by uvicorn on a free loopback port, from a thread of this process."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    found = browser_binaries()
    if found is None:
        message = ("chromium and chromedriver are not installed (make test installs them: "
                   "scripts/install-browser.sh, or apt-get install chromium chromium-driver)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,900", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     # offline: no name resolves but the loopback address, and every other request goes to a
                     # proxy that does not exist (the loopback itself is never proxied)
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                     "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 30.0) -> Any:
    """Poll a JavaScript expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        if time.monotonic() > deadline:
            body = driver.execute_script("return document.body.innerText.slice(0, 2000);")
            raise AssertionError(f"timed out waiting for {script!r}; the page shows:\n{body}")
        time.sleep(0.1)


@pytest.mark.e2e
def test_graphiql_opens_signed_in_offline_from_the_printed_link_runs_a_query_and_loads_the_docs(
        server: str, browser: Any, api: Any) -> None:
    # GIVEN a tenant with the demo catalog and an ADMIN key, and a browser that cannot reach the internet
    from infra.seed import seed_demo_catalog

    seed_demo_catalog(api.tenant)
    # WHEN it opens the link `make serve` prints (the key in the fragment) and runs the default query
    browser.get(f"{server}/graphql#key={api.key}")
    wait_for(browser, "document.querySelector('.graphiql-execute-button')")
    assert "key=" not in browser.current_url, "the key stays out of the address bar"
    browser.find_element("css selector", ".graphiql-execute-button").click()
    # THEN the result pane shows the tenant's data
    result = wait_for(browser, "(document.querySelector('.result-window') || {}).innerText"
                               " && document.querySelector('.result-window').innerText.includes('Cell Phone Plan')"
                               " && document.querySelector('.result-window').innerText")
    assert '"code": "CELL-PLAN"' in result and "UNAUTHENTICATED" not in result
    # AND the Docs open on the schema at once (introspection was signed in too)
    browser.find_element("css selector", "button[aria-label='Show Documentation Explorer']").click()
    docs = wait_for(browser, "(document.querySelector('.graphiql-doc-explorer') || {}).innerText")
    assert "Query" in docs and "Mutation" in docs and "Error fetching schema" not in docs
    # AND everything the page loaded came from the API itself
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert loaded and all(url.startswith(server + "/") for url in loaded), loaded
    assert any(url.endswith("/graphiql/graphiql-3.8.3.min.js") for url in loaded)


@pytest.mark.e2e
def test_graphiql_remembers_the_key_and_asks_again_for_an_unknown_one(server: str, browser: Any, api: Any) -> None:
    # GIVEN the key was stored by an earlier visit
    browser.get(f"{server}/graphql#key={api.key}")
    wait_for(browser, "document.querySelector('.graphiql-execute-button')")
    # WHEN the page is opened again without the link
    browser.get(f"{server}/graphql")
    # THEN it is signed in from storage
    wait_for(browser, "document.querySelector('.graphiql-execute-button')")
    # WHEN a link carries a key the API does not know
    browser.get(f"{server}/graphql#key=umk_not-a-key")
    browser.refresh()
    # THEN the page asks for a key and says why, and forgot the bad one
    problem = wait_for(browser, "(document.querySelector('#sign-in .problem') || {}).innerText")
    assert "not accepted" in problem
    assert browser.execute_script("return localStorage.getItem('usage-api:key');") is None
    # WHEN a good key is typed into the form
    field = browser.find_element("css selector", "#sign-in input[name=key]")
    field.send_keys(api.key)
    browser.find_element("css selector", "#sign-in button[type=submit]").click()
    # THEN GraphiQL opens signed in with it
    wait_for(browser, "document.querySelector('.graphiql-execute-button')")
    assert browser.execute_script("return localStorage.getItem('usage-api:key');") == api.key
