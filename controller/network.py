"""A policy network as arrays, and its deterministic decision in compiled code.

A network is a chain of L layers ``dense (W x + b) -> optional LayerNorm -> activation``; the last
layer's output is turned into an action by the head: ``argmax`` (a discrete action: DQN's
Q-values, PPO's logits) or ``clip`` to [-1, 1] (a continuous action; a squashing tanh is the last
layer's activation). The action maps to the integrator parameter as ``threebody_env.actions``
does: discrete action k is ``values[k]``; a continuous action u in [-1, 1] is
``10 ** (log_low + (u + 1) / 2 (log_high - log_low))``.

Everything travels as one tuple of arrays, the *policy* ``(sizes, weights, biases, norm_weights,
norm_biases, activations, norm_eps, values, log_range)``, so that compiled code passes a policy as
one value:

- ``sizes`` int64 (L + 1,): the layer widths, the observation's first;
- ``weights`` (L, H, H') with ``weights[l, :n_out, :n_in]`` layer l's W as torch stores it
  ((n_out, n_in)), zero-padded to the widest layer; float32 or float64: the forward pass runs in
  this precision, and every other float array below has the same dtype;
- ``biases`` (L, H): b (zeros for a layer without bias);
- ``norm_weights``, ``norm_biases`` (L, H): the LayerNorm after layer l's dense part, if any;
- ``activations`` int64 (L,): :data:`IDENTITY`, :data:`RELU` or :data:`TANH`;
- ``norm_eps`` float64 (L,): LayerNorm's epsilon, or 0 for a layer without LayerNorm;
- ``values`` float64 (K,): the discrete parameter values (K actions), or (0,) for a continuous action;
- ``log_range`` float64 (2,): log10 of the parameter range (used by a continuous action).

Only NumPy and Numba are imported here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

IDENTITY, RELU, TANH = 0, 1, 2
ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH}

#: Status codes of :func:`decide_into`, turned into exceptions by the Python API.
OK, BAD_SHAPE, NOT_FINITE = 0, 1, 2

jit = njit(cache=True, error_model="numpy")


# The dense part may reassociate and fuse its sums and ignore the sign of zero (SIMD dot products);
# no other fast-math flag, so NaN and inf keep their meaning. Not inlined: inlined, it would lose the flags.
@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"})
def _dense(weights, biases, layer, n_out, n_in, x, out):
    """``out[:n_out] = W x + b`` for layer ``layer``, four output rows at a time."""
    j = 0
    while j + 4 <= n_out:
        s0, s1, s2, s3 = biases[layer, j], biases[layer, j + 1], biases[layer, j + 2], biases[layer, j + 3]
        for i in range(n_in):
            xi = x[i]
            s0 += weights[layer, j, i] * xi
            s1 += weights[layer, j + 1, i] * xi
            s2 += weights[layer, j + 2, i] * xi
            s3 += weights[layer, j + 3, i] * xi
        out[j], out[j + 1], out[j + 2], out[j + 3] = s0, s1, s2, s3
        j += 4
    while j < n_out:
        s = biases[layer, j]
        for i in range(n_in):
            s += weights[layer, j, i] * x[i]
        out[j] = s
        j += 1


@jit
def continuous_parameter(u, log_low, log_high):
    """The parameter of a continuous action ``u`` in [-1, 1]: ``10 ** (log_low + (u + 1) / 2 (log_high - log_low))``.

    The environment's action map calls it too (:func:`continuous_parameters`): NumPy's vectorised
    power may round differently from the scalar one, and a deployed episode must match the env's.
    """
    return 10.0 ** (log_low + 0.5 * (u + 1.0) * (log_high - log_low))


@jit
def continuous_parameters(u, log_low, log_high):
    """:func:`continuous_parameter` of each action of ``u`` (B,) float64 -> (B,) float64."""
    out = np.empty(u.size)
    for i in range(u.size):
        out[i] = continuous_parameter(u[i], log_low, log_high)
    return out


@jit
def _forward(sizes, weights, biases, norm_weights, norm_biases, activations, norm_eps, x, y):
    """Run the layers on the input in ``x[:sizes[0]]``; returns the buffer (``x`` or ``y``) holding the output.

    Takes the policy's arrays one by one: unpacking the tuple inside the layer loop costs reference
    counting that, at this size, outweighs the arithmetic.
    """
    for layer in range(sizes.size - 1):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        _dense(weights, biases, layer, n_out, n_in, x, y)
        if norm_eps[layer] > 0.0:
            mean = 0.0
            for j in range(n_out):
                mean += y[j]
            mean /= n_out
            var = 0.0
            for j in range(n_out):
                var += (y[j] - mean) * (y[j] - mean)
            scale = 1.0 / np.sqrt(var / n_out + norm_eps[layer])
            for j in range(n_out):
                y[j] = (y[j] - mean) * scale * norm_weights[layer, j] + norm_biases[layer, j]
        act = activations[layer]
        if act == RELU:
            for j in range(n_out):
                if not y[j] > 0.0:  # NaN stays NaN, as torch's relu keeps it
                    y[j] = 0.0
        elif act == TANH:
            for j in range(n_out):
                y[j] = np.tanh(y[j])
        x, y = y, x
    return x


@jit
def scratch(policy):
    """Two work buffers for :func:`decide_into`, each as wide as the widest layer, in the weights' dtype."""
    width = policy[0].max()
    return np.empty(width, dtype=policy[1].dtype), np.empty(width, dtype=policy[1].dtype)


@jit
def decide_into(policy, observation, buffers):
    """The deterministic action and parameter for one observation (1-D, float32 or float64).

    Returns ``(status, action, parameter)``: status :data:`OK`, :data:`BAD_SHAPE` (length is not
    the network's input width) or :data:`NOT_FINITE` (a NaN or infinite feature); the action is
    the index as a float (discrete) or the value in [-1, 1] (continuous). ``buffers`` come from
    :func:`scratch`; the observation is rounded to the weights' dtype first, as SB3 rounds to float32.
    """
    sizes, values, log_range = policy[0], policy[7], policy[8]
    n_layers = sizes.size - 1
    if observation.size != sizes[0]:
        return BAD_SHAPE, np.nan, np.nan
    x, y = buffers
    for i in range(sizes[0]):
        if not np.isfinite(observation[i]):
            return NOT_FINITE, np.nan, np.nan
        x[i] = observation[i]
    sizes, weights, biases, norm_weights, norm_biases, activations, norm_eps = policy[:7]
    x = _forward(sizes, weights, biases, norm_weights, norm_biases, activations, norm_eps, x, y)
    if values.size > 0:  # argmax; the first of equal maxima, as torch.argmax
        best = 0
        for k in range(1, sizes[n_layers]):
            if x[k] > x[best]:
                best = k
        return OK, float(best), values[best]
    u = min(max(float(x[0]), -1.0), 1.0)
    return OK, u, continuous_parameter(u, log_range[0], log_range[1])


@jit
def decide(policy, observation):
    """:func:`decide_into` with its own buffers: the entry point for other compiled code."""
    return decide_into(policy, observation, scratch(policy))


@jit
def decide_batch(policy, observations, actions, parameters):
    """:func:`decide_into` for each row of ``observations`` (B, D), writing ``actions`` and
    ``parameters`` (B,) float64. Returns ``(status, row)`` of the first bad row, or ``(OK, -1)``."""
    buffers = scratch(policy)
    for row in range(observations.shape[0]):
        status, actions[row], parameters[row] = decide_into(policy, observations[row], buffers)
        if status != OK:
            return status, row
    return OK, -1
