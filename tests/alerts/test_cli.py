"""``live --alert`` and the config file's ``"alerts"``, as a user runs them (a subprocess; the
receivers on 127.0.0.1 in the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import CHAT, TOKEN, kinds


def _live(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "backtrader_channels", "live", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_paper_run_says_it_stopped_on_both_receivers(tmp_path, telegram, webhook):
    config = tmp_path / "alerts.json"
    config.write_text(json.dumps({"alerts": [f"telegram:{TOKEN}:{CHAT}"]}))
    out = _live(
        "--replay-server", "--duration", "3", "--config", str(config),
        "--alert", f"webhook:{webhook.hook_url}",
        env={"BTCH_TELEGRAM_API_URL": telegram.url},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert kinds(telegram) == kinds(webhook) == ["run_stopped"]
    (text,) = [r.body["text"] for r in webhook.delivered()]
    assert text.startswith("run stopped: duration | pnl ")
    assert TOKEN not in out.stdout + out.stderr


def test_a_bad_spec_is_a_usage_error_naming_the_option_not_the_secret():
    out = _live("--replay-server", "--duration", "1", "--alert", "telegram:SECRETTOKEN")
    assert out.returncode == 2
    assert "--alert telegram:...: expected telegram:BOT_TOKEN:CHAT_ID" in out.stderr
    assert "SECRETTOKEN" not in out.stderr + out.stdout
