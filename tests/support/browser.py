"""Headless Debian Chromium for the browser tests (Playwright cannot download its own browser here).

The flags keep Chromium off the network on its own account: without the background-networking ones
it tries to reach Google's hosts at every start, which this machine refuses.
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
