"""Recovery runs: a go-live plan's steps and whole scenarios, run on a live exchange.

This package composes the pure ones (``golive`` plans, the ``sim`` traffic generator, the
``chain``) with the ``exchange``; the command line and the web call it (decision 0009).

- :mod:`ketenherstel.recovery.steps`: ``apply_step`` brings the exchange to a plan's step;
- :mod:`ketenherstel.recovery.scenario`: ``load_scenario`` reads a scenario file;
- :mod:`ketenherstel.recovery.runner`: ``run_scenario`` runs one on simulated time;
- :mod:`ketenherstel.recovery.traffic`: its events, in process or from a child process;
- :mod:`ketenherstel.recovery.figures`: what a run reports.
"""
