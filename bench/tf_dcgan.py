"""TensorFlow's DCGAN tutorial training step, timed (runs in the TensorFlow venv, not gankit's).

The model and step of tensorflow.org/tutorials/generative/dcgan as published: G = Dense
7x7x256 (no bias) + BN + LeakyReLU, Conv2DTranspose 128 (k5, s1), 64 (k5, s2), 1 (k5, s2,
tanh), BN + LeakyReLU between; D = Conv2D 64 and 128 (k5, s2) + LeakyReLU + Dropout 0.3,
Dense(1); BCE on logits, Adam(1e-4) for both, noise 100, one `tf.function` step computing
both gradients from one forward pass.  Real Fashion-MNIST batches from the Debian package
(or random images when it is absent).  Prints one JSON line: {"img_per_s": ..., ...}.

    .venv-tf/bin/python bench/tf_dcgan.py [--steps 30] [--warmup 3] [--batch 256]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tensorflow.keras import layers  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def generator() -> tf.keras.Model:
    return tf.keras.Sequential([
        layers.Input((100,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ])


def discriminator() -> tf.keras.Model:
    return tf.keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ])


def images() -> np.ndarray:
    if os.path.isfile(FASHION):
        with gzip.open(FASHION) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    else:
        x = np.random.default_rng(0).integers(0, 256, (60000, 28, 28, 1), dtype=np.uint8)
    return (x.astype("float32") - 127.5) / 127.5


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    G, D = generator(), discriminator()
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    opt_g, opt_d = tf.keras.optimizers.Adam(1e-4), tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(real):
        noise = tf.random.normal([args.batch, 100])
        with tf.GradientTape() as gt, tf.GradientTape() as dt:
            fake = G(noise, training=True)
            real_out, fake_out = D(real, training=True), D(fake, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        opt_g.apply_gradients(zip(gt.gradient(g_loss, G.trainable_variables), G.trainable_variables))
        opt_d.apply_gradients(zip(dt.gradient(d_loss, D.trainable_variables), D.trainable_variables))
        return g_loss, d_loss

    data = tf.data.Dataset.from_tensor_slices(images()).shuffle(60000, seed=0).batch(args.batch, drop_remainder=True)
    batches = iter(data.repeat())
    for _ in range(args.warmup):  # tracing and oneDNN set-up
        train_step(next(batches))
    t0 = time.perf_counter()
    for _ in range(args.steps):
        g_loss, _ = train_step(next(batches))
    float(g_loss)  # wait for the last step
    seconds = time.perf_counter() - t0
    print(json.dumps({"img_per_s": args.steps * args.batch / seconds, "steps": args.steps, "batch": args.batch,
                      "tensorflow": tf.__version__, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}))


if __name__ == "__main__":
    main()
