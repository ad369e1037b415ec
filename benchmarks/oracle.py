"""How much room is there for a controller that chooses the method and its parameter? (issue 17, item 2)

On the paper's test initial conditions (``agents.seeds.TEST_SEEDS``; 300 intervals of 0.1 yr, each system
advanced by ``integrators.advance_methods``, carrying its integrator's state record from one interval to the
next as the environment does, so consecutive intervals of one method continue its integration and a switch
of method restarts it) this measures, on two accuracy measures, the final |dE/E0| and the episode's
local error (the sum over intervals of the phase-space distance from the double-double reference,
:mod:`integrators.reference`):

- the fixed choices: every (method, parameter) of ``--hermite`` and ``--ias15``; their lower envelope
  over cost is the union front;
- (a) the per-system best: for each fixed choice F, every system takes the cheapest fixed choice that is
  at least as good as F there on both measures;
- (b) a within-run schedule search on ``--beam-systems`` systems: a beam search over (method, parameter)
  actions from cloned states, scoring each partial schedule by
  log10(max(|dE/E0|, local error so far, 1e-16)) + w * force evaluations / 1e4 for each w of ``--weights``;
- (c) the best simple rule, tuned on ``--val-systems`` validation systems and then run on the test systems:
  "IAS15 at eps, but Hermite at eta where the shortest pairwise time scale at the interval's start is below x"
  and "IAS15 at eps; when it spends more than k force evaluations on an interval, redo that interval with
  Hermite at eta" (both costs paid).

The room of a point is how far below the union front (on the same systems) it lies at its own cost:
front / value for the median and p90, 10^(front - value) for the mean log10 (decades as a factor), and the
front's fraction above 1e-8 minus the point's. An episode that fails (|dE/E0| > 0.1 or a failed call) counts
as infinite on both measures. Not a test; docs/oracle.md gives the run time of the defaults.

Usage: nice -n 10 python benchmarks/oracle.py [--n-systems 100] [--beam-systems 20] [--val-systems 16]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass

import numpy as np

import integrators
from agents.evaluation.metrics import DEFAULT_TOLERANCE, LOG_ERROR_CEILING, LOG_ERROR_FLOOR, front_value
from agents.seeds import TEST_SEEDS, VALIDATION_SEEDS, seeds_from
from integrators import advance_methods, energy_batch, min_timescale_batch, state_size
from integrators.reference import local_errors_kernel, phase_space_scales, reference_batch
from threebody_env.initial_conditions import natural_interval, resolve_sampler

HERMITE = integrators.METHODS["hermite"].method_id
IAS15 = integrators.METHODS["ias15"].method_id
MAX_STEPS = 500_000  # per interval, the environment's default budget
MAX_ENERGY_ERROR = 0.1  # the environment's failure threshold
FIXED, TIMESCALE_RULE, FALLBACK_RULE = 0, 1, 2
STATISTICS = ("median", "p90", "mean_log10", "fraction_above")


# ----------------------------------------------------------------- episodes under a rule

def run_rule(kind, threshold, a, b, pos0, vel0, mass, interval, n_intervals):
    """Run S systems (pos0, vel0 (S, N, 3), mass (S, N)) for ``n_intervals`` under one rule; a and b are
    (method id, parameter) pairs.

    kind FIXED: a throughout. TIMESCALE_RULE: b in intervals whose shortest pairwise time scale at the start
    is below ``threshold``, else a. FALLBACK_RULE: a; an interval on which a spends more than ``threshold``
    force evaluations is redone from its start (state record included) with b (both paid). Each system
    carries its integrator's state record between intervals. Returns the states at each interval's start
    and the last end, (S, T + 1, N, 3) x 2, the force evaluations per interval (S, T), whether b ran (S, T),
    the intervals completed (S,) and the final signed energy error (S,) (an episode stops after the
    interval that fails).
    """
    s_count, n = pos0.shape[0], pos0.shape[1]
    pos, vel = pos0.copy(), vel0.copy()
    records = np.zeros((s_count, state_size(n)))
    states_pos = np.full((s_count, n_intervals + 1, n, 3), np.nan)
    states_vel = np.full((s_count, n_intervals + 1, n, 3), np.nan)
    states_pos[:, 0], states_vel[:, 0] = pos, vel
    evals = np.zeros((s_count, n_intervals), dtype=np.int64)
    used_b = np.zeros((s_count, n_intervals), dtype=np.bool_)
    done = np.zeros(s_count, dtype=np.int64)
    energy_error = np.zeros(s_count)
    e0 = energy_batch(pos, vel, mass, 0.0)
    active = np.ones(s_count, dtype=np.bool_)
    for t in range(n_intervals):
        use_b = active & (min_timescale_batch(pos, vel, mass) < threshold) if kind == TIMESCALE_RULE \
            else np.zeros(s_count, dtype=np.bool_)
        start = pos.copy(), vel.copy(), records.copy()
        _, cost, status = advance_methods(np.where(use_b, b[0], a[0]), pos, vel, mass, interval,
                                          np.where(use_b, b[1], a[1]), 0.0, MAX_STEPS, active, records)
        if kind == FALLBACK_RULE:
            redo = active & (cost > threshold)
            pos[redo], vel[redo], records[redo] = (array[redo] for array in start)
            _, extra, redo_status = advance_methods(np.full(s_count, b[0]), pos, vel, mass, interval,
                                                    np.full(s_count, b[1]), 0.0, MAX_STEPS, redo, records)
            cost += extra
            status[redo] = redo_status[redo]
            use_b |= redo
        evals[:, t], used_b[:, t] = cost, use_b
        states_pos[active, t + 1], states_vel[active, t + 1] = pos[active], vel[active]
        done[active] = t + 1
        energy_error[active] = ((energy_batch(pos, vel, mass, 0.0) - e0) / np.abs(e0))[active]
        active &= (status == 0) & (np.abs(energy_error) <= MAX_ENERGY_ERROR)
        if not active.any():
            break
    return states_pos, states_vel, evals, used_b, done, energy_error


@dataclass
class Episodes:
    """Per-system outcome of one way of choosing: cost, final |dE/E0|, episode local error (each (S,))."""

    label: str
    cost: np.ndarray  # force evaluations per episode
    energy: np.ndarray  # final |dE/E0|; inf if the episode failed
    local: np.ndarray  # sum over intervals of the local error; inf if the episode failed
    share_b: float = math.nan  # fraction of intervals run with the rule's second choice

    def subset(self, idx: np.ndarray) -> Episodes:
        return Episodes(self.label, self.cost[idx], self.energy[idx], self.local[idx], self.share_b)


def episodes_of_rule(label, kind, threshold, a, b, ics, interval, n_intervals) -> Episodes:
    """Run a rule (see :func:`run_rule`) on ``ics`` = (pos, vel, mass, r_scale, v_scale) and measure both errors."""
    pos0, vel0, mass, r_scale, v_scale = ics
    sp, sv, evals, used_b, done, energy = run_rule(kind, threshold, a, b, pos0, vel0, mass, interval, n_intervals)
    s_count, n = pos0.shape[0], pos0.shape[1]
    valid = np.arange(n_intervals)[None, :] < done[:, None]
    flat = np.flatnonzero(valid.ravel())
    starts_p, starts_v = sp[:, :-1].reshape(-1, n, 3)[flat], sv[:, :-1].reshape(-1, n, 3)[flat]
    ends_p, ends_v = sp[:, 1:].reshape(-1, n, 3)[flat], sv[:, 1:].reshape(-1, n, 3)[flat]
    owner = np.repeat(np.arange(s_count), n_intervals)[flat]
    errors, _ = local_errors_kernel(starts_p, starts_v, ends_p, ends_v, mass[owner], r_scale[owner], v_scale[owner],
                                    interval, 0.0, 10**7)
    local = np.bincount(owner, weights=errors, minlength=s_count)
    failed = (done < n_intervals) | ~(np.abs(energy) <= MAX_ENERGY_ERROR) | ~np.isfinite(local)
    energy = np.where(failed, np.inf, np.abs(energy))
    local = np.where(failed, np.inf, local)
    share_b = math.nan if kind == FIXED else float(used_b[valid].mean())
    return Episodes(label, evals.sum(axis=1).astype(float), energy, local, share_b)


# ----------------------------------------------------------------- statistics and the union front

def statistics(errors: np.ndarray) -> dict[str, float]:
    """Median, p90, mean log10 (clipped to [1e-16, 1] like evaluate.py) and fraction above 1e-8."""
    big = np.where(np.isinf(errors), 1e300, errors)
    logs = np.log10(np.clip(errors, LOG_ERROR_FLOOR, LOG_ERROR_CEILING))
    return {"median": float(np.percentile(big, 50)), "p90": float(np.percentile(big, 90)),
            "mean_log10": float(logs.mean()), "fraction_above": float((errors > DEFAULT_TOLERANCE).mean())}


def room(statistic: str, front: float, value: float) -> float:
    """How far below the front a value lies: a factor (> 1 is below) or, for the fraction, a difference."""
    if math.isnan(front):
        return math.nan
    if statistic == "fraction_above":
        return front - value
    if statistic == "mean_log10":
        return 10 ** (front - value)
    return max(front, LOG_ERROR_FLOOR) / max(value, LOG_ERROR_FLOOR)


def room_row(point: Episodes, fixed: list[Episodes]) -> dict:
    """The point's cost, statistics on both measures and their room below the union front of ``fixed``."""
    row: dict = {"label": point.label, "cost": float(point.cost.mean()), "share_b": point.share_b}
    for measure in ("energy", "local"):
        stats = statistics(getattr(point, measure))
        fixed_stats = [statistics(getattr(f, measure)) for f in fixed]
        costs = [float(f.cost.mean()) for f in fixed]
        for name in STATISTICS:
            front = front_value(costs, [fs[name] for fs in fixed_stats], row["cost"],
                                log_value=name in ("median", "p90"))
            row[f"{measure}_{name}"] = stats[name]
            row[f"{measure}_{name}_room"] = room(name, front, stats[name])
    return row


def per_system_best(target: Episodes, fixed: list[Episodes]) -> Episodes:
    """(a): each system takes the cheapest fixed choice at least as good as ``target`` there on both measures."""
    costs = np.array([f.cost for f in fixed])
    good = np.array([(f.energy <= target.energy) & (f.local <= target.local) for f in fixed])
    choice = np.argmin(np.where(good, costs, np.inf), axis=0)
    systems = np.arange(costs.shape[1])
    pick = [fixed[c] for c in choice]
    cost = costs[choice, systems]
    return Episodes(f"per-system best vs {target.label} (its cost / {target.cost.mean() / cost.mean():.2f})", cost,
                    np.array([p.energy[s] for p, s in zip(pick, systems, strict=True)]),
                    np.array([p.local[s] for p, s in zip(pick, systems, strict=True)]))


# ----------------------------------------------------------------- (b) beam search over schedules

def expand(pos, vel, records, mass, methods, params, interval):
    """Every beam member (M, N, 3), with its state record (M, R), advanced by every action (A,): children
    (M, A, N, 3) x 2 and (M, A, R), evals and status (M, A)."""
    m_count, a_count, n = pos.shape[0], methods.shape[0], pos.shape[1]
    child_pos, child_vel = np.repeat(pos, a_count, axis=0), np.repeat(vel, a_count, axis=0)
    child_records = np.repeat(records, a_count, axis=0)
    _, evals, status = advance_methods(np.tile(methods, m_count), child_pos, child_vel,
                                       np.repeat(mass, a_count, axis=0), interval, np.tile(params, m_count), 0.0,
                                       MAX_STEPS, np.ones(m_count * a_count, np.bool_), child_records)
    return (child_pos.reshape(m_count, a_count, n, 3), child_vel.reshape(m_count, a_count, n, 3),
            child_records.reshape(m_count, a_count, -1), evals.reshape(m_count, a_count),
            status.reshape(m_count, a_count))


def beam_search(ics, actions, weight, width, interval, n_intervals) -> Episodes:
    """(b): per system, keep the ``width`` best partial schedules by log10(max(|dE|, local, 1e-16)) + w cost / 1e4;
    each interval expands every kept schedule by every action from its cloned end state and state record."""
    pos0, vel0, mass, r_scale, v_scale = ics
    s_count, n = pos0.shape[0], pos0.shape[1]
    methods = np.array([a[0] for a in actions], dtype=np.int64)
    params = np.array([a[1] for a in actions])
    e0 = energy_batch(pos0, vel0, mass, 0.0)
    # the beam, flattened over systems: member k belongs to system owner[k]
    pos, vel, owner = pos0.copy(), vel0.copy(), np.arange(s_count)
    states = np.zeros((s_count, state_size(n)))
    cost, local, energy = np.zeros(s_count), np.zeros(s_count), np.zeros(s_count)
    n_ias15 = np.zeros(s_count)
    is_ias15 = methods == IAS15
    for _ in range(n_intervals):
        child_pos, child_vel, child_states, evals, status = expand(pos, vel, states, mass[owner], methods, params,
                                                                   interval)
        ph, pl, vh, vl = pos.copy(), np.zeros_like(pos), vel.copy(), np.zeros_like(vel)
        reference_batch(ph, pl, vh, vl, mass[owner], interval, 0.0, 10**7)
        dx = np.linalg.norm((child_pos - ph[:, None]) - pl[:, None], axis=-1).max(axis=-1)
        dv = np.linalg.norm((child_vel - vh[:, None]) - vl[:, None], axis=-1).max(axis=-1)
        c_local = local[:, None] + dx / r_scale[owner, None] + dv / v_scale[owner, None]
        m_count, a_count = evals.shape
        energies = energy_batch(child_pos.reshape(-1, n, 3), child_vel.reshape(-1, n, 3),
                                np.repeat(mass[owner], a_count, axis=0), 0.0).reshape(m_count, a_count)
        c_energy = np.abs((energies - e0[owner, None]) / e0[owner, None])
        c_cost = cost[:, None] + evals
        score = np.log10(np.maximum(np.maximum(c_energy, c_local), 1e-16)) + weight * c_cost / 1e4
        score[(status != 0) | ~np.isfinite(score)] = np.inf
        keep_member, keep_action = [], []
        for s in range(s_count):
            members = np.flatnonzero(owner == s)
            flat = score[members].ravel()
            best = np.argsort(flat, kind="stable")[:width]
            best = best[np.isfinite(flat[best])] if np.isfinite(flat[best]).any() else best[:1]
            keep_member.extend(members[best // a_count])
            keep_action.extend(best % a_count)
        km, ka = np.array(keep_member), np.array(keep_action)
        pos, vel, states, owner = child_pos[km, ka], child_vel[km, ka], child_states[km, ka], owner[km]
        cost, local, energy = c_cost[km, ka], c_local[km, ka], c_energy[km, ka]
        n_ias15 = n_ias15[km] + is_ias15[ka]
    # the best final member of each system by the same score
    final = np.log10(np.maximum(np.maximum(energy, local), 1e-16)) + weight * cost / 1e4
    best = np.array([np.flatnonzero(owner == s)[np.argmin(final[owner == s])] for s in range(s_count)])
    failed = ~np.isfinite(final[best]) | (energy[best] > MAX_ENERGY_ERROR)
    return Episodes(f"beam search, w = {weight:g}", cost[best].astype(float), np.where(failed, np.inf, energy[best]),
                    np.where(failed, np.inf, local[best]), float(1.0 - n_ias15[best].mean() / n_intervals))


# ----------------------------------------------------------------- the run

def initial_conditions(seeds: list[int]):
    """(pos, vel, mass, r_scale, v_scale) arrays of the paper triples drawn with ``seeds``."""
    sampler = resolve_sampler("paper", None, None)
    drawn = [sampler(np.random.default_rng(seed)) for seed in seeds]
    pos, vel, mass = (np.array([d[k] for d in drawn]) for k in range(3))
    scales = np.array([phase_space_scales(p, m) for p, m in zip(pos, mass, strict=True)])
    return pos, vel, mass, scales[:, 0].copy(), scales[:, 1].copy()


def fixed_choices(hermite: list[float], ias15: list[float]) -> list[tuple[str, tuple[int, float]]]:
    return ([(f"hermite {eta:.3g}", (HERMITE, eta)) for eta in hermite]
            + [(f"ias15 {eps:.0e}", (IAS15, eps)) for eps in ias15])


def run_fixed(choices, ics, interval, n_intervals) -> list[Episodes]:
    return [episodes_of_rule(label, FIXED, 0.0, a, a, ics, interval, n_intervals) for label, a in choices]


def rule_grid(args) -> list[tuple[str, int, float, tuple[int, float], tuple[int, float]]]:
    rules = []
    for eps in args.rule_ias15:
        for eta in args.rule_hermite:
            a, b = (IAS15, eps), (HERMITE, eta)
            rules += [(f"ias15 {eps:.0e}, hermite {eta:.3g} where time scale < {x:g}", TIMESCALE_RULE, x, a, b)
                      for x in args.timescales]
            rules += [(f"ias15 {eps:.0e}, redo with hermite {eta:.3g} above {k:g} evals", FALLBACK_RULE, k, a, b)
                      for k in args.fallback_evals]
    return rules


def rule_score(row: dict) -> float:
    """A rule's worst log10 room over the median and p90 of both measures (NaN outside the front: -inf)."""
    rooms = [row[f"{m}_{s}_room"] for m in ("energy", "local") for s in ("median", "p90")]
    return -math.inf if any(math.isnan(r) for r in rooms) else min(math.log10(r) for r in rooms)


def table(rows: list[dict], measure: str) -> str:
    unit = "|dE/E0| at the end" if measure == "energy" else "episode local error (sum)"
    lines = [f"{measure}: {unit}; each statistic (room below the union front at equal force evaluations)",
             "| choice | force evals / episode | Hermite share | median | p90 | mean log10 | above 1e-8 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        rooms = {s: r[f"{measure}_{s}_room"] for s in STATISTICS}
        shown = {s: "outside" if math.isnan(v) else f"{v:.2g}x" for s, v in rooms.items()}
        if not math.isnan(rooms["fraction_above"]):
            shown["fraction_above"] = f"{rooms['fraction_above']:+.0%}"
        cells = [f"{r[f'{measure}_{s}']:.2g} ({shown[s]})" for s in ("median", "p90")]
        cells.append(f"{r[f'{measure}_mean_log10']:.2f} ({shown['mean_log10']})")
        cells.append(f"{r[f'{measure}_fraction_above']:.0%} ({shown['fraction_above']})")
        share = "" if math.isnan(r["share_b"]) else f"{r['share_b']:.1%}"
        lines.append(f"| {r['label']} | {r['cost'] / 1e3:.1f}k | {share} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-systems", type=int, default=100, help="test systems for the fixed choices and (a), (c)")
    parser.add_argument("--beam-systems", type=int, default=20, help="the first test systems, for (b)")
    parser.add_argument("--val-systems", type=int, default=16, help="validation systems to tune the rules (c)")
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--hermite", type=float, nargs="+",
                        default=[4.64e-4, 1e-3, 2.15e-3, 4.64e-3, 1e-2, 2.15e-2, 4.64e-2])
    parser.add_argument("--ias15", type=float, nargs="+", default=[1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.03, 0.1, 0.3],
                        help="beam search: cost weight w (per 1e4 force evaluations, in decades of error)")
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--beam-hermite", type=float, nargs="+", default=[4.64e-4, 1e-3, 4.64e-3, 2.15e-2])
    parser.add_argument("--beam-ias15", type=float, nargs="+", default=[1e-10, 1e-8, 1e-6, 1e-4])
    parser.add_argument("--rule-ias15", type=float, nargs="+", default=[1e-9, 1e-7])
    parser.add_argument("--rule-hermite", type=float, nargs="+", default=[4.64e-4, 1e-3])
    parser.add_argument("--timescales", type=float, nargs="+", default=[0.03, 0.1, 0.3, 1.0])
    parser.add_argument("--fallback-evals", type=float, nargs="+", default=[150, 300, 600])
    parser.add_argument("--out", default="oracle.json", help="where to write every row as JSON")
    args = parser.parse_args()
    if not 1 <= args.beam_systems <= args.n_systems:
        parser.error("--beam-systems must be between 1 and --n-systems (the beam runs on the first test systems)")
    interval = natural_interval(resolve_sampler("paper", None, None))
    test = initial_conditions(seeds_from(TEST_SEEDS, args.n_systems))
    choices = fixed_choices(args.hermite, args.ias15)
    start = time.perf_counter()

    fixed = run_fixed(choices, test, interval, args.intervals)
    print(f"fixed choices on {args.n_systems} test systems: {time.perf_counter() - start:.0f} s", flush=True)
    rows = [room_row(f, fixed) for f in fixed]
    rows += [room_row(per_system_best(f, fixed), fixed) for f in fixed]

    val = initial_conditions(seeds_from(VALIDATION_SEEDS, args.val_systems))
    val_fixed = run_fixed(choices, val, interval, args.intervals)
    tuned = []
    for label, kind, threshold, a, b in rule_grid(args):
        tuned.append((rule_score(room_row(episodes_of_rule(label, kind, threshold, a, b, val, interval,
                                                           args.intervals), val_fixed)), label, kind, threshold, a, b))
    print(f"rules tuned on {args.val_systems} validation systems: {time.perf_counter() - start:.0f} s", flush=True)
    for family in (TIMESCALE_RULE, FALLBACK_RULE):
        score, label, kind, threshold, a, b = max((t for t in tuned if t[2] == family), key=lambda t: t[0])
        print(f"best on validation (worst log10 room {score:.2f}): {label}")
        rows.append(room_row(episodes_of_rule(f"rule: {label}", kind, threshold, a, b, test, interval,
                                              args.intervals), fixed))

    beam_idx = np.arange(args.beam_systems)
    beam_ics = tuple(x[beam_idx] for x in test)
    beam_fixed = [f.subset(beam_idx) for f in fixed]
    actions = [(HERMITE, eta) for eta in args.beam_hermite] + [(IAS15, eps) for eps in args.beam_ias15]
    beam_rows = [room_row(f, beam_fixed) for f in beam_fixed]
    for weight in args.weights:
        beam_rows.append(room_row(beam_search(beam_ics, actions, weight, args.beam_width, interval, args.intervals),
                                  beam_fixed))
        print(f"beam search w = {weight:g}: {time.perf_counter() - start:.0f} s", flush=True)

    for measure in ("energy", "local"):
        print(f"\n## {args.n_systems} test systems x {args.intervals} intervals\n{table(rows, measure)}")
        print(f"\n## beam search, first {args.beam_systems} test systems (width {args.beam_width}, "
              f"{len(actions)} actions)\n{table(beam_rows, measure)}")
    with open(args.out, "w") as f:
        json.dump({"args": vars(args), "rows": rows, "beam_rows": beam_rows}, f, indent=1)
    print(f"\ntotal {time.perf_counter() - start:.0f} s; rows in {args.out}")


if __name__ == "__main__":
    main()
