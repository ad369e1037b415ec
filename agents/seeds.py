"""The one place that splits initial-condition seeds into training, validation and test ranges.

An initial condition is identified by the seed of the generator that draws it: episode k of a
validation or test set starts from ``sampler(np.random.default_rng(seed_k))`` (the seeding of
``ThreeBodyVectorEnv.reset(seed=[...])``). Training environments are seeded with the run's
``--seed`` (sub-environment i with ``seed + i``) and then draw a fresh initial condition each
episode from that stream. The ranges do not overlap, so a model is never selected or tested on
a generator it trained on.
"""

from __future__ import annotations

TRAIN_SEEDS = range(0, 1_000_000)
VALIDATION_SEEDS = range(1_000_000, 1_010_000)
TEST_SEEDS = range(2_000_000, 3_000_000)


def seeds_from(split: range, count: int, offset: int = 0) -> list[int]:
    """The ``count`` seeds of ``split`` starting at ``offset``; raises ``ValueError`` past its end."""
    if count < 0 or offset < 0 or offset + count > len(split):
        raise ValueError(f"{count} seeds from offset {offset} do not fit in {split} ({len(split)} seeds)")
    return list(split[offset : offset + count])


def check_training_seed(seed: int, n_envs: int) -> None:
    """Raise ``ValueError`` unless sub-environment seeds ``seed .. seed + n_envs - 1`` are training seeds."""
    if seed < TRAIN_SEEDS.start or seed + n_envs > TRAIN_SEEDS.stop:
        raise ValueError(
            f"--seed {seed} with {n_envs} environments leaves the training seed range {TRAIN_SEEDS}"
        )
