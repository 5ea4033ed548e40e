"""A small om-2025 run on SQLite, shared by the picture's web and browser tests."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from ketenherstel.bootstrap import bootstrap
from ketenherstel.exchange.manual import ManualWork
from ketenherstel.recovery.runner import run_scenario
from ketenherstel.recovery.scenario import builtin_scenario_path, load_scenario
from ketenherstel.settings import Settings
from ketenherstel.store.manual_ports import manual_store

SCALE = 0.01  # about 6 cases a day: every part of the story happens, in seconds


def run_small(folder: Path) -> Settings:
    """Run om-2025 at 1 % into ``folder`` and return the settings that open its store."""
    settings = Settings(store_url=f"sqlite:///{folder / 's.db'}", synchronous="NORMAL")
    rt = bootstrap(settings)
    try:
        scenario = load_scenario(builtin_scenario_path("om-2025"), rt.chain)
        scenario = dataclasses.replace(scenario, step=timedelta(hours=4))
        manual = ManualWork(store=manual_store(rt.store), chain=rt.chain)
        run_scenario(
            scenario, rt.exchange, manual, scale=SCALE, parallel=False, registry=rt.registry
        )
    finally:
        rt.close()
    return settings
