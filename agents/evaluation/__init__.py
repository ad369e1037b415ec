"""Evaluate a trained policy against every fixed parameter on the same unseen initial conditions.

The pipeline behind ``evaluate.py``, one module per stage:

- :mod:`~agents.evaluation.runs`: :func:`load_run` reads a run folder; :func:`evaluation_settings`
  fixes the :class:`Settings` (an ``EnvConfig`` and the intervals per episode).
- :mod:`~agents.evaluation.methods`: :func:`method_specs` lists the policy and its baselines as
  plain :class:`MethodSpec` values.
- :mod:`~agents.evaluation.schedule`: :func:`evaluate` runs :func:`run_chunk` (one method on one
  chunk of seeds) here, in a background process, or as Dask tasks.
- :mod:`~agents.evaluation.metrics`: :func:`summarize` gives each method's
  :class:`MethodSummary` (median, p90, max, fraction above tolerance, mean log10 error, with bootstrap
  intervals); :func:`verdict` places the policy against the fixed-parameter front at its cost.
- :mod:`~agents.evaluation.report`: :class:`Report`, :func:`write_outputs` and :func:`print_table`.
"""

from agents.evaluation.methods import ROLES, MethodSpec, baseline_specs, method_specs, policy_spec
from agents.evaluation.metrics import (
                                       COST_AXES,
                                       DEFAULT_TOLERANCE,
                                       STATISTICS,
                                       Comparison,
                                       CostAxis,
                                       ErrorStatistics,
                                       Estimate,
                                       MethodSummary,
                                       Percentiles,
                                       StatisticVerdict,
                                       Verdict,
                                       compare_with_fixed,
                                       error_statistics,
                                       interpolate_front,
                                       summarize,
                                       verdict,
)
from agents.evaluation.report import (
                                       EPISODE_COLUMNS,
                                       OUTPUT_FILES,
                                       Report,
                                       episode_rows,
                                       prepare_output,
                                       print_table,
                                       write_csv,
                                       write_outputs,
)
from agents.evaluation.runs import (
                                       EvaluationError,
                                       Run,
                                       Settings,
                                       check_compatible,
                                       checked_config,
                                       evaluation_settings,
                                       load_model,
                                       load_run,
)
from agents.evaluation.schedule import BACKGROUND_MIN_SEEDS, evaluate, run_chunk, run_chunks_on_dask

__all__ = [
    "BACKGROUND_MIN_SEEDS", "COST_AXES", "DEFAULT_TOLERANCE", "EPISODE_COLUMNS", "ROLES", "OUTPUT_FILES", "STATISTICS",
    "Comparison", "CostAxis", "ErrorStatistics", "Estimate", "EvaluationError", "MethodSpec", "MethodSummary",
    "Percentiles", "Report", "Run", "Settings", "StatisticVerdict", "Verdict", "baseline_specs", "check_compatible",
    "checked_config", "compare_with_fixed", "episode_rows", "error_statistics", "evaluate", "evaluation_settings",
    "interpolate_front", "load_model", "load_run", "method_specs", "policy_spec", "prepare_output", "print_table",
    "run_chunk", "run_chunks_on_dask", "summarize", "verdict", "write_csv", "write_outputs",
]
