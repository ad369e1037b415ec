"""Evaluate a trained policy against every fixed parameter on the same unseen initial conditions.

The pipeline behind ``evaluate.py``, one module per stage:

- :mod:`~agents.evaluation.runs`: :func:`load_run` reads a run folder; :func:`evaluation_settings`
  fixes the :class:`Settings` (an ``EnvConfig`` and the intervals per episode).
- :mod:`~agents.evaluation.methods`: :func:`method_specs` lists the policy and its baselines as
  plain :class:`MethodSpec` values.
- :mod:`~agents.evaluation.schedule`: :func:`evaluate` runs :func:`run_chunk` (one method on one
  chunk of seeds) here, in a background process, or as Dask tasks.
- :mod:`~agents.evaluation.metrics`: :func:`summarize` gives each method's
  :class:`MethodSummary`; :func:`compare_with_fixed` the verdict.
- :mod:`~agents.evaluation.report`: :class:`Report`, :func:`write_outputs` and :func:`print_table`.
"""

from agents.evaluation.methods import KINDS, MethodSpec, baseline_specs, method_specs, policy_spec
from agents.evaluation.metrics import (Comparison, MethodSummary, Percentiles, compare_summaries, compare_with_fixed,
                                       summarize)
from agents.evaluation.report import EPISODE_COLUMNS, Report, episode_rows, print_table, write_csv, write_outputs
from agents.evaluation.runs import (EvaluationError, Run, Settings, check_compatible, checked_config,
                                    evaluation_settings, load_model, load_run)
from agents.evaluation.schedule import BACKGROUND_MIN_SEEDS, evaluate, run_chunk, run_chunks_on_dask

__all__ = [
    "BACKGROUND_MIN_SEEDS", "EPISODE_COLUMNS", "KINDS", "Comparison", "EvaluationError", "MethodSpec",
    "MethodSummary", "Percentiles", "Report", "Run", "Settings", "baseline_specs", "check_compatible",
    "checked_config", "compare_summaries", "compare_with_fixed", "episode_rows", "evaluate", "evaluation_settings",
    "load_model", "load_run", "method_specs", "policy_spec", "print_table", "run_chunk", "run_chunks_on_dask",
    "summarize", "write_csv", "write_outputs",
]
