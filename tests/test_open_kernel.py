"""A notebook left open in JupyterLab does not block the scheduled ingest."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workbench.config import Settings, load_settings
from workbench.synth import SynthResult
from workbench.unify import ingest


def run_cell(kc: object, code: str) -> str:
    """Execute ``code`` in the kernel; return what it printed, fail on an error."""
    printed: list[str] = []
    errors: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind == "error":
            errors.append("\n".join(content["traceback"]))

    reply = kc.execute_interactive(code, timeout=120, output_hook=hook)  # type: ignore[attr-defined]
    assert reply["content"]["status"] == "ok", "\n".join(errors)
    return "".join(printed)


@pytest.mark.slow
def test_an_ingest_succeeds_while_a_notebook_kernel_is_open(
    tmp_path: Path, small_synth: SynthResult
) -> None:
    from jupyter_client.manager import start_new_kernel

    settings: Settings = load_settings(root=tmp_path, env={})
    ingest(small_synth.raw_dir, settings, progress=False)
    env = {**os.environ, **{k: v for k, v in settings.to_env().items() if v is not None}}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        assert Path(run_cell(kc, "import sys; print(sys.executable)").strip()).samefile(
            sys.executable
        )
        first = run_cell(
            kc,
            "from workbench.report import start\n"
            "r = start()\n"
            "orders = r.con.table('orders')\n"
            "print(int(orders.count().execute()))",
        )
        # The kernel is idle between cells: a scheduled ingest writes the warehouse.
        again = ingest(small_synth.raw_dir, settings, progress=False)
        assert not again.refused
        # The next cell reads the warehouse as the ingest left it, from the same expression.
        second = run_cell(kc, "print(int(orders.count().execute()))")
        assert int(second) == int(first) > 0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
