"""The single environment ``ThreeBodyEnv``: API contract, physics bookkeeping, rewards, robustness.

Wall time is off by default (``record_wall_time``), so info is deterministic; the
oracle for the dynamics is ``integrators.evolve`` run independently on the same initial condition.
"""

import math
import random
import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from conftest import CHEAP, sampled_actions, two_close_bodies
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import integrators
import threebody_env
from threebody_env import EnvConfig, ThreeBodyEnv, figure_eight, pythagorean
from threebody_env.actions import ActionMap
from threebody_env.initial_conditions import PAPER_INTERVAL

INFO_KEYS = {"energy_error", "step_energy_error", "n_force_evals", "n_steps", "wall_time", "param", "time", "status"}
ETAS = np.logspace(-3, -1, 7)  # the default discrete action set: 3 values per decade


def make_env(**kwargs) -> ThreeBodyEnv:
    return ThreeBodyEnv(record_wall_time=False, **kwargs)


def triangle_at_rest(rng=None):
    pos = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.3, 0.8, 0.0]])
    return pos, np.zeros((3, 3)), np.array([1.0, 2.0, 0.5])


def four_bodies(rng=None):
    pos = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    vel = np.array([[0.0, 0.5, 0.0], [0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.5, 0.0, 0.0]])
    return pos, vel, np.ones(4)


# --- checkers and registration ----------------------------------------------------------------


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
@pytest.mark.parametrize("observation", ["summary", "full", "paper"])
@pytest.mark.parametrize("reward", ["interval", "accumulated", "final", "paper"])
def test_gymnasium_and_sb3_checkers_pass(action_mode, observation, reward):
    """Both checkers accept every combination of action mode, observation and reward."""
    kwargs = dict(action_mode=action_mode, observation=observation, reward=reward)
    gym_check_env(make_env(**kwargs), skip_render_check=True)
    sb3_check_env(make_env(**kwargs), warn=True)


@pytest.mark.parametrize("env_id", ["ThreeBody-v0", "ThreeBodyContinuous-v0"])
def test_checkers_pass_on_the_registered_defaults(env_id):
    """Both checkers accept each registered id exactly as ``gymnasium.make`` builds it, no arguments."""
    gym_check_env(gymnasium.make(env_id).unwrapped, skip_render_check=True)
    sb3_check_env(gymnasium.make(env_id).unwrapped, warn=True)


def test_wall_time_is_zero_by_default_and_reported_on_request():
    """Wall time (the one non-deterministic info value) reads 0.0 by default; with
    ``record_wall_time=True`` or ``cost="wall_time"`` it is positive and finite."""
    env = ThreeBodyEnv()
    env.reset(seed=0)
    assert env.step(CHEAP)[-1]["wall_time"] == 0.0
    for kwargs in ({"record_wall_time": True}, {"cost": "wall_time"}):
        env = ThreeBodyEnv(**kwargs)
        assert env.config.record_wall_time is True
        env.reset(seed=0)
        for action in (0, CHEAP):
            info = env.step(action)[-1]
            assert math.isfinite(info["wall_time"]) and info["wall_time"] > 0


def test_make_in_a_fresh_interpreter():
    """``gymnasium.make("threebody_env:ThreeBody-v0")`` imports and registers the package itself."""
    code = (
        "import gymnasium; env = gymnasium.make('threebody_env:ThreeBody-v0'); "
        "obs, _ = env.reset(seed=0); print(env.spec.max_episode_steps, obs.shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["100", "(6,)"]


@pytest.mark.parametrize("env_id, space", [("ThreeBody-v0", gymnasium.spaces.Discrete),
                                           ("ThreeBodyContinuous-v0", gymnasium.spaces.Box)])
def test_registered_ids(env_id, space):
    """The ids build a Hermite env with eta in [1e-3, 1e-1], truncated at 100 intervals."""
    env = gymnasium.make(env_id)
    assert isinstance(env.unwrapped, ThreeBodyEnv) and isinstance(env.action_space, space)
    assert env.spec.max_episode_steps == threebody_env.TRAINING_EPISODE_STEPS == 100
    assert env.unwrapped.config.integrator == "hermite" and env.unwrapped.config.param_range == (1e-3, 1e-1)


def test_time_limit_truncates_at_100_intervals():
    """Through ``gymnasium.make`` an episode is truncated (not terminated) after 100 steps."""
    env = gymnasium.make("ThreeBody-v0", record_wall_time=False)
    env.reset(seed=3)
    for step in range(1, 101):
        _, _, terminated, truncated, info = env.step(5)
        assert not terminated
        assert truncated == (step == 100)
    assert info["time"] == pytest.approx(100 * PAPER_INTERVAL, rel=1e-12)


# --- determinism and randomness ----------------------------------------------------------------


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    trace = [(obs, 0.0, info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs, reward, info))
        if terminated or truncated:
            break
    return trace


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_seeded_determinism(action_mode):
    """Same seed and actions -> identical observations, rewards and infos (wall time aside);
    another seed -> another initial condition."""
    actions = sampled_actions(make_env(action_mode=action_mode), 0, 20)
    traces = []
    for seed in (11, 11, 12):
        env = ThreeBodyEnv(action_mode=action_mode, record_wall_time=True)  # the only field allowed to differ
        traces.append(rollout(env, seed, actions))
    same, other = traces[1], traces[2]
    assert len(traces[0]) == len(same)
    for (o1, r1, i1), (o2, r2, i2) in zip(traces[0], same, strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2
        assert {k: v for k, v in i1.items() if k != "wall_time"} == {k: v for k, v in i2.items() if k != "wall_time"}
    assert not np.array_equal(traces[0][0][0], other[0][0])


def test_env_does_not_touch_global_rngs():
    """Resetting (seeded and unseeded) and stepping leave NumPy's global RNG and ``random`` alone."""
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state(), random.getstate()
    env = make_env()
    env.reset(seed=1)
    for action in sampled_actions(env, 1, 10):
        env.step(action)
    env.reset()
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    assert random.getstate() == py_state


def test_unseeded_resets_draw_new_initial_conditions():
    """Successive resets continue the seeded generator: new triples, reproducible from the seed."""
    first = [make_env() for _ in range(2)]
    obs = [[env.reset(seed=5)[0]] + [env.reset()[0] for _ in range(2)] for env in first]
    np.testing.assert_array_equal(obs[0], obs[1])
    assert not np.array_equal(obs[0][1], obs[0][2])


# --- initial conditions through options ------------------------------------------------------------


def test_given_initial_condition_is_used_as_is():
    """The figure-eight passed via options: the paper observation shows its x, y and vx, vy, and
    over a few steps the env follows ``integrators.Simulation`` on the same state (the integrator's
    state carried across intervals), with the energy error recomputed independently as (E - E0) / |E0|."""
    pos, vel, mass = figure_eight()
    env = make_env(observation="paper")
    obs, info = env.reset(seed=0, options={"initial_condition": (pos, vel, mass)})
    np.testing.assert_array_equal(obs[:6], (pos[:, :2] / 10).astype(np.float32).ravel())
    np.testing.assert_array_equal(obs[6:12], vel[:, :2].astype(np.float32).ravel())
    e0 = integrators.energy(pos, vel, mass)
    sim = integrators.Simulation(pos, vel, mass, "hermite")
    for k, action in enumerate((3, CHEAP, 1), start=1):
        sim.param = ETAS[action]
        evals, steps = sim.n_force_evals, sim.n_steps
        sim.integrate(k * PAPER_INTERVAL)
        pos, vel = sim.pos, sim.vel
        obs, _, _, _, info = env.step(action)
        np.testing.assert_allclose(obs[:6], (pos[:, :2] / 10).ravel(), rtol=1e-6, atol=1e-7)
        expected = (integrators.energy(pos, vel, mass) - e0) / abs(e0)
        assert info["energy_error"] == pytest.approx(expected, rel=1e-6, abs=1e-15)
        assert info["n_force_evals"] == sim.n_force_evals - evals and info["n_steps"] == sim.n_steps - steps


@pytest.mark.parametrize(
    "initial_condition, message",
    [
        (four_bodies(), "4 bodies"),
        ((np.eye(3)[:2], np.zeros((2, 3)), np.ones(2)), "2 bodies"),
        ((np.full((3, 3), np.nan), np.zeros((3, 3)), np.ones(3)), "not finite"),
        ((pythagorean()[0], np.zeros((3, 3)), np.array([1.0, 0.0, 1.0])), r"mass\[1\] = 0.0 must be > 0"),
        ((pythagorean()[0], np.zeros((3, 3)), np.array([1.0, -1.0, 1.0])), r"mass\[1\] = -1.0 must be > 0"),
        ((np.zeros((3, 2)), np.zeros((3, 3)), np.ones(3)), "shape"),
        ((np.zeros((3, 3)), np.zeros((3, 3)), np.ones(3)), "both at position"),
    ],
)
def test_bad_initial_condition_raises(initial_condition, message):
    env = make_env()
    with pytest.raises(ValueError, match=message):
        env.reset(options={"initial_condition": initial_condition})


# --- step semantics -------------------------------------------------------------------------------


def test_info_keys_and_time_advance():
    """info carries the documented keys at reset and after each step; time advances by exactly one
    interval per step; n_force_evals counts the last interval only."""
    env = make_env()
    _, info = env.reset(seed=2)
    assert INFO_KEYS <= info.keys() and info["time"] == 0.0
    for action in sampled_actions(env, 2, 10):
        previous = info["time"]
        info = env.step(action)[-1]
        assert INFO_KEYS <= info.keys()
        assert info["time"] == previous + env.config.interval
        assert info["status"] == "ok" and info["n_force_evals"] >= info["n_steps"] >= 1


def test_discrete_param_is_the_chosen_eta():
    """Action k applies the k-th of 7 values log-spaced in [1e-3, 1e-1], 3 per decade."""
    env = make_env()
    env.reset(seed=4)
    assert env.action_space.n == len(ETAS) == 7
    for k in range(7):
        assert env.step(k)[-1]["param"] == pytest.approx(ETAS[k], rel=1e-12)


@pytest.mark.parametrize("integrator, n_actions", [("hermite", 7), ("hermite_aarseth", 16), ("dopri5", 25)])
def test_default_action_set_has_three_values_per_decade(integrator, n_actions):
    """Without ``n_actions`` the method's range gets 3 values per decade, both ends included."""
    config = EnvConfig(integrator=integrator)
    lo, hi = config.param_range
    assert config.n_actions == n_actions
    values = ActionMap(config).values
    np.testing.assert_allclose(np.diff(np.log10(values)), 1 / 3, rtol=1e-12)
    assert values[0] == pytest.approx(lo, rel=1e-12) and values[-1] == pytest.approx(hi, rel=1e-12)


@pytest.mark.parametrize("u, param", [(-1.0, 1e-3), (1.0, 1e-1), (0.0, 1e-2), (-5.0, 1e-3), (7.0, 1e-1)])
def test_continuous_param_is_log_linear(u, param):
    """-1 -> 1e-3, +1 -> 1e-1, 0 -> the geometric middle; out-of-range actions are clipped."""
    env = make_env(action_mode="continuous")
    env.reset(seed=4)
    assert env.step(np.array([u], dtype=np.float32))[-1]["param"] == pytest.approx(param, rel=1e-6)


def test_smaller_eta_costs_more_force_evaluations():
    """From the same state, each smaller eta needs more force evaluations (and steps)."""
    evals = []
    for k in range(7):
        env = make_env()
        env.reset(seed=6)
        evals.append(env.step(k)[-1]["n_force_evals"])
    assert all(a > b for a, b in zip(evals[:3], evals[1:4], strict=True)) and evals == sorted(evals, reverse=True)


# --- observations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("observation", ["summary", "full", "paper"])
def test_observations_are_fresh_finite_float32_in_space(observation):
    env = make_env(observation=observation, action_mode="continuous")
    obs, _ = env.reset(seed=8)
    seen = [obs]
    for action in sampled_actions(env, 8, 30):
        obs = env.step(action)[0]
        seen.append(obs)
    for obs in seen:
        assert obs.dtype == np.float32 and np.all(np.isfinite(obs)) and env.observation_space.contains(obs)
    for a, b in zip(seen[:-1], seen[1:], strict=True):
        assert not np.shares_memory(a, b)


@pytest.mark.parametrize("observation, shape", [("summary", (6,)), ("full", (6 * 3 + 6,))])
def test_error_features_read_no_error_at_reset(observation, shape):
    """At reset the three error features (accumulated, last interval, now) read the floor (-1, an
    error of 1e-16), the opposite end from failure; after an interval with eta = 0.1 they rise. The
    summary is the last six features of the full observation."""
    env = make_env(observation=observation)
    obs, _ = env.reset(seed=0)
    assert obs.shape == shape
    errors = obs[-6:][[1, 2, 5]]
    np.testing.assert_array_equal(errors, [-1.0, -1.0, -1.0])
    stepped = env.step(CHEAP)[0]
    assert np.all(stepped[-6:][[1, 2, 5]] > -1.0)
    full = make_env(observation="full")
    full.reset(seed=0)
    np.testing.assert_array_equal(full.step(CHEAP)[0][-6:], stepped[-6:])


def test_paper_observation():
    """13 values; the error feature is -log10 |dE/E0|, 16 at reset; only defined for 3 bodies."""
    env = make_env(observation="paper")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (13,) and obs[12] == 16.0
    obs, _, _, _, info = env.step(CHEAP)
    assert obs[12] == pytest.approx(-math.log10(abs(info["energy_error"])), rel=1e-6)
    with pytest.raises(ValueError, match="3 bodies"):
        make_env(observation="paper", initial_conditions=four_bodies)


# --- rewards --------------------------------------------------------------------------------------


def reference_cost(initial_condition, config) -> int:
    """Force evaluations of one interval at the geometric middle of the eta range, from reset."""
    lo, hi = config.param_range
    return integrators.evolve(config.integrator, *initial_condition, config.interval, math.sqrt(lo * hi)).n_force_evals


@pytest.mark.parametrize("seed, max_energy_error, fixed_action", [(0, 0.1, None), (1, 0.1, None), (2, 1e-9, CHEAP)])
def test_interval_reward_charges_each_interval_its_error_and_work(seed, max_energy_error, fixed_action):
    """R_i = -max(0, log10(|dE_i| / target)) - w * cost_i / c_ref - penalty * failed, with the
    interval's energy change dE_i recomputed from integrators.energy and c_ref computed
    independently; checked step by step on full and failing episodes. The target is 1e-12: an energy
    recomputed in another order differs by round-off (~1e-16 |E0|), which would move the log of an
    interval's change near a 1e-16 target by more than the tolerance."""
    initial_condition = threebody_env.paper_triple(np.random.default_rng(seed))
    env = make_env(max_energy_error=max_energy_error, reward="interval", cost_weight=0.1, target_error=1e-12)
    cfg = env.config
    env.reset(options={"initial_condition": initial_condition})
    c_ref = reference_cost(initial_condition, cfg)
    energy0 = integrators.energy(*initial_condition)
    previous = energy0
    actions = sampled_actions(env, seed, 100) if fixed_action is None else [fixed_action] * 100
    terminated = False
    for action in actions:
        _, reward, terminated, _, info = env.step(action)
        systems = env.unwrapped._systems
        energy = integrators.energy(systems.pos[0], systems.vel[0], systems.mass[0])
        step_error = np.clip(abs(energy - previous) / abs(energy0), cfg.target_error, 10 * cfg.max_energy_error)
        expected = (-math.log10(step_error / cfg.target_error) - cfg.cost_weight * info["n_force_evals"] / c_ref
                    - cfg.failure_penalty * terminated)
        assert math.isfinite(reward)
        assert reward == pytest.approx(expected, rel=1e-6, abs=1e-6)
        previous = energy
        if terminated:
            break
    assert terminated == (max_energy_error < 0.1)


@pytest.mark.parametrize("reward", ["accumulated", "final"])
@pytest.mark.parametrize("seed, max_energy_error, error_ceiling, fixed_action",
                         [(0, 0.1, 1.0, None), (1, 0.1, 1e-9, None), (2, 1e-9, 1.0, CHEAP), (3, 0.1, 1e-9, CHEAP)])
def test_log_error_rewards_telescope(reward, seed, max_energy_error, error_ceiling, fixed_action):
    """Return = -log10(clip(X, target, ceiling) / target) - w * sum(cost / c_ref) - penalty * failed,
    with X the sum of the intervals' |dE| ("accumulated") or the final |dE/E0| ("final"), both
    recomputed from integrators.energy, on full and failing episodes, with and without the ceiling
    binding."""
    initial_condition = threebody_env.paper_triple(np.random.default_rng(seed))
    env = make_env(max_energy_error=max_energy_error, reward=reward, error_ceiling=error_ceiling)
    cfg = env.config
    env.reset(options={"initial_condition": initial_condition})
    energy0 = integrators.energy(*initial_condition)
    previous, accumulated, total, work, terminated = energy0, 0.0, 0.0, 0, False
    actions = sampled_actions(env, seed, 100) if fixed_action is None else [fixed_action] * 100
    for action in actions:
        _, reward_i, terminated, _, info = env.step(action)
        systems = env.unwrapped._systems
        energy = integrators.energy(systems.pos[0], systems.vel[0], systems.mass[0])
        accumulated += abs(energy - previous) / abs(energy0)
        previous = energy
        total += reward_i
        work += info["n_force_evals"]
        assert math.isfinite(reward_i)
        if reward == "accumulated":
            assert reward_i <= 0.0  # the accumulated error never shrinks
        if terminated:
            break
    assert terminated == (max_energy_error < 0.1)
    error = accumulated if reward == "accumulated" else abs(previous - energy0) / abs(energy0)
    if fixed_action is not None and error_ceiling < max_energy_error:
        assert error > cfg.error_ceiling  # the cheapest eta overshoots the ceiling: the clip is exercised
    final = np.clip(error, cfg.target_error, cfg.error_ceiling)
    expected = (-math.log10(final / cfg.target_error) - cfg.cost_weight * work / reference_cost(initial_condition, cfg)
                - cfg.failure_penalty * terminated)
    assert total == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("reward", ["final", "accumulated", "interval"])
def test_reset_forgets_the_previous_episode(reward):
    """After an episode that ran up a large error, reset and one step give the same observation
    and reward as a fresh env: no error (current, previous or accumulated) leaks across episodes."""
    used = make_env(reward=reward)
    used.reset(seed=1)
    for _ in range(20):
        used.step(CHEAP)
    assert abs(used.unwrapped._systems.energy_error[0]) > 1e-8  # the state to be forgotten
    used.reset(seed=2)
    fresh = make_env(reward=reward)
    fresh.reset(seed=2)
    obs_used, reward_used = used.step(0)[:2]
    obs_fresh, reward_fresh = fresh.step(0)[:2]
    np.testing.assert_array_equal(obs_used, obs_fresh)
    assert reward_used == reward_fresh


def test_paper_reward_is_zero_on_the_first_step():
    env = make_env(reward="paper")
    env.reset(seed=0)
    assert env.step(CHEAP)[1] == 0.0
    assert env.step(CHEAP)[1] != 0.0


@pytest.mark.parametrize("max_energy_error", [0.1, 0.5, 0.99])
def test_paper_reward_is_finite_and_monotone_in_the_error(max_energy_error):
    """With the action fixed, more energy error never gives more reward, including around e = 1
    where the original formula is singular; it stays finite for errors up to 1e3 and for inf."""
    env = make_env(reward="paper", max_energy_error=max_energy_error)
    env.reset(seed=0)
    env.step(CHEAP)
    env.step(CHEAP)
    systems = env.unwrapped._systems
    errors = np.concatenate([[0.0], np.logspace(-18, 3, 400), [np.inf]])
    rewards = []
    for error in errors:
        systems.energy_error[0] = error
        rewards.append(env._reward(systems, systems.failed())[0])
    rewards = np.array(rewards)
    assert np.all(np.isfinite(rewards))
    assert np.all(np.diff(rewards) <= 0)


def test_failure_terminates_with_the_penalty():
    """An error over ``max_energy_error`` terminates (not truncates) and costs ``failure_penalty``
    on top of the same reward without it."""
    outcomes = []
    for penalty in (20.0, 0.0):
        env = make_env(max_energy_error=1e-14, failure_penalty=penalty)
        env.reset(seed=0)
        outcomes.append(env.step(CHEAP))
    (_, r_penalised, terminated, truncated, info), (_, r_free, *_ ) = outcomes
    assert terminated is True and truncated is False
    assert abs(info["energy_error"]) > 1e-14
    assert r_penalised == pytest.approx(r_free - 20.0, abs=1e-12)


# --- robustness ------------------------------------------------------------------------------------


def run_episode(env, seed, options=None, steps=100):
    """Random actions until the episode ends or ``steps`` run out; asserts finiteness throughout.
    Returns the last info and whether the episode terminated."""
    obs, _ = env.reset(seed=seed, options=options)
    assert np.all(np.isfinite(obs))
    for action in sampled_actions(env, seed, steps):
        obs, reward, terminated, truncated, info = env.step(action)
        assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs) and math.isfinite(reward)
        if terminated or truncated:
            break
    return info, terminated


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_no_nan_under_sampled_actions(action_mode):
    """30 paper triples x 100 random actions: every observation and reward is finite."""
    env = make_env(action_mode=action_mode)
    for seed in range(15 if action_mode == "continuous" else 30):
        run_episode(env, seed)


@pytest.mark.parametrize(
    "sampler, kwargs, status",
    [
        (two_close_bodies, {}, "non_finite"),
        (triangle_at_rest, {}, "ok"),
        (pythagorean, {"max_integrator_steps": 50}, "max_steps"),
        (pythagorean, {}, "ok"),
    ],
    ids=["two-bodies-1e-6-apart", "triangle-at-rest", "pythagorean-budget-50", "pythagorean"],
)
@pytest.mark.parametrize("observation", ["summary", "full", "paper"])
def test_near_collisions_end_cleanly(sampler, kwargs, status, observation):
    """Close encounters, collisions and exhausted step budgets give finite observations and rewards;
    a collision or an exhausted budget terminates the episode with its status, instead of NaN or a
    hang, and the two systems that survive 100 random intervals end with status "ok"."""
    env = make_env(initial_conditions=sampler, observation=observation, reward="paper", **kwargs)
    info, terminated = run_episode(env, 0)
    assert info["status"] == status
    assert terminated == (status != "ok" or abs(info["energy_error"]) > env.config.max_energy_error)


@pytest.mark.parametrize("action, status", [(CHEAP, "ok"), (0, "max_steps")])
def test_step_budget_terminates(action, status):
    """The Pythagorean problem with 50 integrator steps per interval: eta = 0.1 fits (about 7 steps),
    eta = 1e-3 (hundreds of steps) runs out, which terminates with a finite observation and reward."""
    env = make_env(initial_conditions=pythagorean, max_integrator_steps=50)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(action)
    assert info["status"] == status and terminated == (status != "ok") and not truncated
    assert np.all(np.isfinite(obs)) and math.isfinite(reward)


def test_collision_terminates():
    """Two bodies 1e-6 apart at rest fall together within the first interval: terminated."""
    env = make_env(initial_conditions=two_close_bodies)
    env.reset()
    _, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated and math.isfinite(reward)
    assert info["status"] != "ok" or abs(info["energy_error"]) > env.config.max_energy_error


@pytest.mark.parametrize("integrator", list(integrators.METHODS))
@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_every_integrator_runs_in_the_env(integrator, action_mode):
    """Each method of ``integrators.METHODS`` drives the env; the applied parameter stays in its range."""
    env = make_env(integrator=integrator, action_mode=action_mode)
    lo, hi = integrators.METHODS[integrator].param_range
    env.reset(seed=0)
    for action in sampled_actions(env, 0, 4):
        obs, reward, _, _, info = env.step(action)
        assert np.all(np.isfinite(obs)) and math.isfinite(reward)
        assert lo * (1 - 1e-12) <= info["param"] <= hi * (1 + 1e-12) and info["n_force_evals"] > 0


# --- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"integrator": "euler"}, "integrator='euler'"),
        ({"action_mode": "multi"}, "action_mode='multi'"),
        ({"observation": "pixels"}, "observation='pixels'"),
        ({"reward": "sparse"}, "reward='sparse'"),
        ({"cost": "flops"}, "cost='flops'"),
        ({"n_actions": 1}, "n_actions=1"),
        ({"n_actions": 2.5}, "n_actions=2.5"),
        ({"param_range": (0, 1)}, r"param_range=\(0"),
        ({"param_range": (0.1, 0.01)}, r"param_range=\(0.1, 0.01\)"),
        ({"param_range": (1e-4, math.inf)}, "param_range"),
        ({"interval": 0.0}, "interval=0.0"),
        ({"interval": -1.0}, "interval=-1.0"),
        ({"interval": math.nan}, "interval=nan"),
        ({"max_energy_error": math.nan}, "max_energy_error=nan"),
        ({"target_error": 0.0}, "target_error=0.0"),
        ({"error_ceiling": 1e-17}, "error_ceiling=1e-17 must exceed target_error"),
        ({"cost_weight": -1.0}, "cost_weight=-1.0"),
        ({"softening": math.inf}, "softening=inf"),
        ({"max_integrator_steps": 0}, "max_integrator_steps=0"),
        ({"render_mode": "ansi"}, "render_mode='ansi'"),
        ({"initial_conditions": "nope"}, "initial_conditions='nope'"),
        ({"cost": "wall_time", "record_wall_time": False}, "record_wall_time"),
        ({"record_wall_time": "no"}, "record_wall_time='no'"),
        ({"interval": True}, "interval=True"),
        ({"max_integrator_steps": True}, "max_integrator_steps=True"),
        ({"max_integrator_steps": 2**70}, "max_integrator_steps=1180591620717411303424"),
        ({"param_range": (5e-324, 1e-3)}, "high / low finite"),
        ({"param_range": (1e-3,)}, "param_range=\\(0.001,\\) must be a pair"),
        ({"cost_weight": 1e308}, "cost_weight=1e\\+308 must be at most"),
        ({"failure_penalty": math.inf}, "failure_penalty=inf"),
        ({"reward": "paper", "paper_weights": (math.nan, 1.0)}, "paper_weights=\\(nan, 1.0\\)"),
        ({"paper_weights": (1.0, 2.0, 3.0)}, "paper_weights"),
        ({"reward": "paper", "param_range": (0.1, 2.0)}, "param_range"),
        ({"reward": "paper", "max_energy_error": 1.0}, "max_energy_error=1.0"),
    ],
)
def test_bad_configuration_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThreeBodyEnv(**kwargs)


def test_bad_actions_raise():
    env = make_env()
    env.reset(seed=0)
    for action in (-1, 10, 2.5):
        with pytest.raises(ValueError, match="discrete actions"):
            env.step(action)
    for action in (True, np.array([1, 2]), [[1]], "3"):
        with pytest.raises(ValueError):
            env.step(action)
    env = make_env(action_mode="continuous")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="expected one action of shape \\(1,\\)"):
        env.step(np.zeros(2, dtype=np.float32))


def test_integer_actions_of_every_kind_give_the_same_parameter():
    """A Python int, a NumPy integer, a 0-d and a (1,) integer array all select the same eta."""
    params = set()
    for action in (3, np.int64(3), np.int32(3), np.array(3), np.array([3])):
        env = make_env()
        env.reset(seed=0)
        params.add(env.step(action)[-1]["param"])
    assert params == {float(ETAS[3])}


def test_misspelt_reset_option_is_rejected():
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['initial_conditions'\]"):
        make_env().reset(options={"initial_conditions": triangle_at_rest()})


def test_step_and_render_before_reset_raise():
    for env in (make_env(), make_env(render_mode="rgb_array")):
        with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
            env.step(CHEAP)
    with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
        make_env(render_mode="rgb_array").render()


def test_stepping_after_termination_warns():
    env = make_env(initial_conditions=two_close_bodies)
    env.reset()
    assert env.step(0)[2]
    with pytest.warns(UserWarning, match="after the episode terminated"):
        env.step(0)
    env.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.step(CHEAP)  # a new episode steps quietly


# --- rendering -------------------------------------------------------------------------------------


def test_render_rgb_array(monkeypatch):
    """``rgb_array`` gives an (H, W, 3) uint8 picture after reset and after steps."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = make_env(render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    for action in (CHEAP, 5, 0):
        env.step(action)
    frame = env.render()
    for image in (first, frame):
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.shape[0] > 100
    assert not np.array_equal(first, frame)  # the trails and error curves moved
    env.close()


def test_render_shows_the_applied_parameters_only_and_a_point_at_reset(monkeypatch):
    """The parameter panel has one step per interval (the value applied), none for reset's placeholder;
    the error panel marks the current error from the first frame on; times are labelled in N-body units."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = make_env(render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    panels = env._renderer._panels
    assert panels.param_steps.get_data().values.size == 0
    assert panels.error_now.get_xydata().shape == (1, 2) and "N-body" in panels.orbit.get_title()
    applied = [env.step(action)[4]["param"] for action in (CHEAP, 5, 0)]
    env.render()
    assert env._renderer._panels is panels  # updated in place, not rebuilt
    np.testing.assert_array_equal(panels.param_steps.get_data().values, applied)
    np.testing.assert_array_equal(panels.param_steps.get_data().edges, np.arange(4) * env.config.interval)
    env.close()


def test_render_without_mode_warns_and_returns_none():
    env = make_env()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
