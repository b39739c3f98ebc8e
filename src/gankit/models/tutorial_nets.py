"""The tutorial networks by CLI name: the tutorial GANs users arrive from, reproduced
layer for layer.  Each builder follows the MODELS contract (see models/__init__.py) and is
paired with a preset of the same tutorial (docs/presets.md).

    model.name   preset         source
    tf-dcgan     tf-dcgan       TensorFlow's DCGAN tutorial
    tf2-fashion  fashion-tf2    TF2 Keras Fashion-MNIST GAN
    catdog       cifar-catdog   Keras CIFAR-10 cats-and-dogs GAN
    vogue        fashion-vogue  "GANs in Vogue" Keras tutorial
    mlp          mnist-study    PyTorch MNIST study of GAN losses (fully connected)
"""

from __future__ import annotations

from gankit.models.tutorial_keras import build_catdog, build_tf2_fashion, build_tf_dcgan, build_vogue
from gankit.models.tutorial_mlp import build_mlp

TUTORIAL_MODELS = {
    "tf-dcgan": build_tf_dcgan,
    "tf2-fashion": build_tf2_fashion,
    "catdog": build_catdog,
    "vogue": build_vogue,
    "mlp": build_mlp,
}
