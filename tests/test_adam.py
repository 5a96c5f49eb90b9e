"""agents/helpers/adam.py against Keras' Adam: the same optimiser when every embedding row has a gradient,
dense weights included; lazy on rows outside the batch."""

from __future__ import annotations

import numpy as np

from agents.helpers.adam import ADAM, adam_updater
from agents.triplet import _tensorflow


def test_lazy_adam_matches_keras_adam_when_every_row_has_a_gradient():
    tf = _tensorflow()
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)]
    lazy, dense = [tf.Variable(x) for x in start], [tf.Variable(x) for x in start]
    apply = adam_updater(tf, lazy, learning_rate=0.05)
    beta_1, beta_2, epsilon = ADAM
    keras_adam = tf.keras.optimizers.Adam(learning_rate=0.05, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)

    def loss(params, rows):  # an embedding table (row-sparse gradient) through a dense layer
        return tf.reduce_sum(tf.tanh(tf.gather(params[0], rows) @ params[1]) ** 2)

    every = tf.constant([0, 1, 2, 3, 1], dtype=tf.int64)  # every row, one twice
    for _ in range(3):
        with tf.GradientTape() as tape:
            value = loss(lazy, every)
        grads = tape.gradient(value, lazy)
        assert isinstance(grads[0], tf.IndexedSlices)
        apply(grads)
        with tf.GradientTape() as tape:
            value = loss(dense, every)
        keras_adam.apply_gradients(zip([tf.convert_to_tensor(g) for g in tape.gradient(value, dense)], dense))
        for a, b in zip(lazy, dense):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    untouched = lazy[0].numpy()[3].copy()
    with tf.GradientTape() as tape:
        value = loss(lazy, tf.constant([0, 2], dtype=tf.int64))
    apply(tape.gradient(value, lazy))
    np.testing.assert_array_equal(lazy[0].numpy()[3], untouched)
    assert not np.array_equal(lazy[0].numpy()[0], dense[0].numpy()[0])  # row 0 did move
