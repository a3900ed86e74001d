"""Shared fixtures: a small synthetic data set built once, settings in a temp dir."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from workbench.config import Settings, load_settings
from workbench.synth import SynthResult, generate

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_CUSTOMERS = 3000


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """3,000 persons, seed 7: every export format, planted truth; built once per session."""
    root = tmp_path_factory.mktemp("synth")
    return generate(
        root / "raw",
        root / "truth",
        customers=SMALL_CUSTOMERS,
        seed=7,
        batch_size=1500,
        progress=False,
    )


@pytest.fixture()
def project(tmp_path: Path) -> Settings:
    """Settings rooted in an empty temp project (no workbench.toml, default paths)."""
    return load_settings(root=tmp_path, env={})


@pytest.fixture()
def fixture_notebook(tmp_path: Path):
    """Copy a fixture notebook into the temp project and return its path."""

    def copy(name: str) -> Path:
        dst = tmp_path / "notebooks" / name
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(FIXTURES / name, dst)
        return dst

    return copy


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def dom_at(page: Path, profile: Path, width: int = 1280) -> str:
    """The page's DOM after its scripts ran in headless Chromium, in a window ``width``
    px wide (Chromium makes one at least 500 px wide), with its own ``profile``."""
    return subprocess.run(
        [
            str(chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={width},900",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
