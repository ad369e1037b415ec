"""A trained time-step policy as a torch-free controller, to embed in a simulation.

Imports only NumPy, Numba and ``integrators`` (not torch, stable-baselines3 or gymnasium)::

    from controller import Controller
    ctl = Controller.load("logs/dqn/ThreeBody-v0_1")      # best_controller.npz, else controller.npz
    eta = ctl.parameter(observation)                     # one decision, ~1 us
    etas = ctl.parameters(observations)                  # a batch (B, D)

From your own loop over ``integrators.evolve``: ``observer = ctl.observer(pos, vel, mass)``, then
each interval ``ctl.parameter(observer.observe(pos, vel))`` and ``observer.record(...)``
(:mod:`controller.observer`). From Numba code: ``controller.network.decide(ctl.policy, observation)``
returns ``(status, action, parameter)``. :mod:`controller.episode` runs a deployed episode (observation, decision,
integration per interval) in one compiled loop; :mod:`controller.features` computes the
observation exactly as the environment does. ``agents.export`` writes the ``.npz`` files.
"""

from controller.episode import EpisodeResult, EpisodeSettings, run_episode
from controller.observer import Observer
from controller.runtime import Controller, controller_path

__all__ = ["Controller", "controller_path", "EpisodeSettings", "EpisodeResult", "Observer", "run_episode"]
