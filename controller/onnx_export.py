"""A controller as an ONNX graph, for codes that run it through ONNX Runtime (its C, C++ or Python API).

The graph has one input and two outputs, all with a free batch dimension B:

- ``observation`` float32 (B, D): the observation the policy was trained on (see :mod:`controller.features`);
- ``action``: int64 (B,) the index of a discrete action, or float32 (B,) a continuous action in [-1, 1];
- ``parameter`` float64 (B,): the integrator parameter (e.g. Hermite's ``eta``) the action maps to.

Layers are ``Gemm`` (float32, as trained), ``LayerNormalization`` (opset 17), ``Relu`` and ``Tanh``;
the head is ``ArgMax`` (the first of equal maxima, as torch and the Numba controller) then a lookup
of the parameter values, or ``Clip`` to [-1, 1] then ``10 ** (log_low + (u + 1) / 2 (log_high - log_low))``
in float64. The controller's metadata (algorithm, environment settings, deployed-episode settings)
travels as the model's ``metadata_props`` entry ``threebody-controller``. ONNX Runtime does not
check that observations are finite: a NaN feature gives an arbitrary action, where
:class:`~controller.Controller` raises.

Needs the ``onnx`` package (the ``onnx`` extra); the rest of :mod:`controller` does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from controller.network import RELU, TANH
from controller.runtime import Controller

#: The opset: 17 is the first with LayerNormalization.
OPSET = 17
#: The key of the controller's JSON metadata in the model's ``metadata_props``.
METADATA_KEY = "threebody-controller"


def to_onnx(controller: Controller) -> onnx.ModelProto:
    """The controller's deterministic decision as a checked ONNX model (float32 weights, float64 parameter)."""
    sizes, weights, biases, norm_weights, norm_biases, activations, norm_eps, values, log_range = controller.policy
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(array, name))
        return name

    x = "observation"
    for layer in range(sizes.size - 1):
        n_in, n_out = int(sizes[layer]), int(sizes[layer + 1])
        weight = constant(f"weight_{layer}", weights[layer, :n_out, :n_in].astype(np.float32))
        bias = constant(f"bias_{layer}", biases[layer, :n_out].astype(np.float32))
        nodes.append(helper.make_node("Gemm", [x, weight, bias], [f"dense_{layer}"], transB=1))
        x = f"dense_{layer}"
        if norm_eps[layer] > 0:
            scale = constant(f"norm_weight_{layer}", norm_weights[layer, :n_out].astype(np.float32))
            shift = constant(f"norm_bias_{layer}", norm_biases[layer, :n_out].astype(np.float32))
            nodes.append(helper.make_node("LayerNormalization", [x, scale, shift], [f"norm_{layer}"], axis=-1,
                                          epsilon=float(norm_eps[layer])))
            x = f"norm_{layer}"
        if activations[layer] in (RELU, TANH):
            op = "Relu" if activations[layer] == RELU else "Tanh"
            nodes.append(helper.make_node(op, [x], [f"{op.lower()}_{layer}"]))
            x = f"{op.lower()}_{layer}"
    if values.size > 0:
        nodes += [helper.make_node("ArgMax", [x], ["action"], axis=1, keepdims=0, select_last_index=0),
                  helper.make_node("Gather", [constant("values", values.astype(np.float64)), "action"], ["parameter"])]
        action_type = TensorProto.INT64
    else:
        low, high = float(log_range[0]), float(log_range[1])
        nodes += [
            helper.make_node("Clip", [x, constant("minus_one", np.float32(-1.0)), constant("one", np.float32(1.0))],
                             ["clipped"]),
            helper.make_node("Reshape", ["clipped", constant("flat", np.array([-1], dtype=np.int64))], ["action"]),
            helper.make_node("Cast", ["action"], ["action_64"], to=TensorProto.DOUBLE),
            # log_low + 0.5 (u + 1) (log_high - log_low), in the order controller.network computes it
            helper.make_node("Add", ["action_64", constant("one_64", np.float64(1.0))], ["shifted"]),
            helper.make_node("Mul", ["shifted", constant("half", np.float64(0.5))], ["fraction"]),
            helper.make_node("Mul", ["fraction", constant("span", np.float64(high - low))], ["scaled"]),
            helper.make_node("Add", ["scaled", constant("log_low", np.float64(low))], ["exponent"]),
            helper.make_node("Pow", [constant("ten", np.float64(10.0)), "exponent"], ["parameter"]),
        ]
        action_type = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "threebody_controller",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["batch", int(sizes[0])])],
        [helper.make_tensor_value_info("action", action_type, ["batch"]),
         helper.make_tensor_value_info("parameter", TensorProto.DOUBLE, ["batch"])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="threebody-rl")
    model.ir_version = 8  # the newest that ONNX Runtime releases of the last years all read
    helper.set_model_props(model, {METADATA_KEY: json.dumps(controller.metadata)})
    onnx.checker.check_model(model, full_check=True)
    return model


def save_onnx(controller: Controller, path: str | Path) -> Path:
    """Write :func:`to_onnx` of ``controller`` to ``path``; returns the path."""
    path = Path(path)
    onnx.save(to_onnx(controller), str(path))
    return path
