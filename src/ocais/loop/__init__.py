"""The learning loop: real cases → gated synthetic set → learned model → before/after validation.

``run_loop(load_config("configs/loop-example.toml"), kb)`` runs it end to end (see
:mod:`ocais.loop.run`); this layer sits above ``synth``, ``learn`` and ``evaluate``.
"""

from __future__ import annotations

from ocais.loop.config import LoopConfig, SplitOptions, ValidationOptions, load_config, parse_config
from ocais.loop.run import LoopFigures, LoopResult, run_loop, run_loop_on_cases
from ocais.loop.split import split_cases

__all__ = [
    "LoopConfig",
    "LoopFigures",
    "LoopResult",
    "SplitOptions",
    "ValidationOptions",
    "load_config",
    "parse_config",
    "run_loop",
    "run_loop_on_cases",
    "split_cases",
]
