"""stable-baselines3 agents for threebody_env: algorithms, hyperparameters, baselines, rollouts."""

import os

# The batched environment's kernel and torch share one OpenMP runtime, initialised by whichever
# comes first. With the default active wait policy, idle OpenMP threads spin, and a parallel
# kernel launched while torch's threads spin (or any other process keeps the cores busy) stalls
# for a scheduler slice: ~24 ms instead of ~50 us per call, measured on 2 cores. Passive waiting
# avoids it; set OMP_WAIT_POLICY yourself to override. This must run before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
