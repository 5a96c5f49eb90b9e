"""Adam for the TensorFlow warm starts, lazy on row-sparse gradients (embedding tables).

:func:`adam_updater` returns ``apply(grads)``, meant to be called inside a ``tf.function``. A gradient that
TensorFlow gives as ``tf.IndexedSlices`` (from ``tf.gather`` on an embedding table) updates only the rows
the batch touched, and their moments, as ``funk_svd``'s BPR step does, so a step costs O(batch), not
O(catalogue); a dense gradient (an MLP's weights) gets Keras' ``Adam``. TensorFlow is passed in, never
imported here, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ADAM = (0.9, 0.999, 1e-8)
"""``beta_1, beta_2, epsilon``."""


def adam_updater(tf: Any, params: Sequence[Any], learning_rate: float) -> Callable[[Sequence[Any]], None]:
    """``apply(grads)``: one Adam step on ``params`` (``tf.Variable``s) with their gradients, in order.

    A ``None`` gradient leaves its parameter (and moments) alone. The step counter is shared, so bias
    correction follows the number of calls.
    """
    moments = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
    steps = tf.Variable(0.0)
    beta_1, beta_2, epsilon = ADAM

    def apply(grads: Sequence[Any]) -> None:
        steps.assign_add(1.0)
        rate = learning_rate * tf.sqrt(1.0 - beta_2**steps) / (1.0 - beta_1**steps)
        for param, (mean, square), grad in zip(params, moments, grads):
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                rows, where = tf.unique(grad.indices)
                values = tf.math.unsorted_segment_sum(grad.values, where, tf.size(rows))
                mean_rows = beta_1 * tf.gather(mean, rows) + (1.0 - beta_1) * values
                square_rows = beta_2 * tf.gather(square, rows) + (1.0 - beta_2) * values * values
                mean.scatter_update(tf.IndexedSlices(mean_rows, rows))
                square.scatter_update(tf.IndexedSlices(square_rows, rows))
                param.scatter_sub(tf.IndexedSlices(rate * mean_rows / (tf.sqrt(square_rows) + epsilon), rows))
            else:
                mean.assign(beta_1 * mean + (1.0 - beta_1) * grad)
                square.assign(beta_2 * square + (1.0 - beta_2) * grad * grad)
                param.assign_sub(rate * mean / (tf.sqrt(square) + epsilon))

    return apply
