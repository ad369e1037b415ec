"""Evaluate a trained policy against every fixed parameter on the same unseen initial conditions.

The pipeline behind ``evaluate.py``, one module per stage:

- :mod:`~agents.evaluation.runs`: :func:`load_run` reads a run folder; :func:`evaluation_settings`
  fixes the :class:`Settings` (an ``EnvConfig`` and the intervals per episode).
- :mod:`~agents.evaluation.methods`: :func:`method_specs` lists the policy and its baselines (every
  fixed (method, parameter) of each baseline method's grid) as plain :class:`MethodSpec` values.
- :mod:`~agents.evaluation.schedule`: :func:`evaluate` runs :func:`run_chunk` (one method on one
  chunk of seeds) here, in a background process, or as Dask tasks.
- :mod:`~agents.evaluation.metrics`: :func:`summarize` gives each method's
  :class:`MethodSummary` (median, p90, max, fraction above tolerance, mean log10 error, with bootstrap
  intervals), on the energy error and the local error; :func:`verdict` places the policy against
  the union front of every fixed choice at its cost, and :func:`overall_call` decides.
- :mod:`~agents.evaluation.report`: :class:`Report`, :func:`write_outputs` and :func:`print_table`.
"""

from agents.evaluation.methods import (
                                       DEFAULT_BASELINES,
                                       ROLES,
                                       BaselineMethod,
                                       MethodSpec,
                                       baseline_methods,
                                       baseline_specs,
                                       method_specs,
                                       parse_baselines,
                                       policy_spec,
)
from agents.evaluation.metrics import (
                                       ACCURACY_MEASURES,
                                       COST_AXES,
                                       DECIDING_STATISTICS,
                                       DEFAULT_TOLERANCE,
                                       FRONT_ROLES,
                                       STATISTICS,
                                       Call,
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
                                       front_value,
                                       interpolate_front,
                                       lower_envelope,
                                       overall_call,
                                       summarize,
                                       verdict,
)
from agents.evaluation.report import (
                                       EPISODE_COLUMNS,
                                       OUTPUT_FILES,
                                       POSITION_LEGEND,
                                       Report,
                                       describe_episodes,
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
    "ACCURACY_MEASURES", "BACKGROUND_MIN_SEEDS", "COST_AXES", "DECIDING_STATISTICS", "DEFAULT_BASELINES",
    "DEFAULT_TOLERANCE", "EPISODE_COLUMNS", "FRONT_ROLES", "ROLES", "OUTPUT_FILES", "POSITION_LEGEND", "STATISTICS",
    "BaselineMethod", "Call", "Comparison", "CostAxis", "ErrorStatistics", "Estimate", "EvaluationError", "MethodSpec",
    "MethodSummary", "Percentiles", "Report", "Run", "Settings", "StatisticVerdict", "Verdict", "baseline_methods",
    "baseline_specs", "check_compatible", "checked_config", "compare_with_fixed", "describe_episodes", "episode_rows",
    "error_statistics", "evaluate", "evaluation_settings", "front_value", "interpolate_front", "load_model", "load_run",
    "lower_envelope", "method_specs", "overall_call", "parse_baselines", "policy_spec", "prepare_output",
    "print_table", "run_chunk", "run_chunks_on_dask", "summarize", "verdict", "write_csv", "write_outputs",
]
