"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by ``.ci/run``) under Selenium, for
the live page's tests; :func:`chromium_or_skip` skips a test, saying why, where they are missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium's own connections are refused on a closed network and
# it can stall; a fresh profile per test keeps runs independent.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def chromium_or_skip() -> None:
    """Skip the calling test when Chromium, its driver or Selenium is missing (.ci/run installs them)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            pytest.skip(f"{path} is missing: install Debian's {package} package (.ci/run does) to run the "
                        "live page's browser tests")
    pytest.importorskip("selenium", reason="selenium is missing: pip install -e '.[test]'")


@contextmanager
def headless_chromium(profile: Path) -> Iterator[Any]:
    """A Selenium WebDriver on headless Chromium with a fresh profile in ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")
                                                                or CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
