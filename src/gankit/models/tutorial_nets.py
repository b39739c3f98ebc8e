"""The tutorial networks by CLI name: the tutorial GANs users arrive from, reproduced
layer for layer.  Each is a `ModelSpec` (models/spec.py) whose builder follows the MODELS
contract (see models/__init__.py); each is paired with a preset of the same tutorial (docs/presets.md).

    model.name   preset         source
    tf-dcgan     tf-dcgan       TensorFlow's DCGAN tutorial
    tf2-fashion  fashion-tf2    TF2 Keras Fashion-MNIST GAN
    catdog       cifar-catdog   Keras CIFAR-10 cats-and-dogs GAN
    vogue        fashion-vogue  "GANs in Vogue" Keras tutorial
    mlp          mnist-study    PyTorch MNIST study of GAN losses (fully connected)
"""

from __future__ import annotations

from gankit.models.tutorial_keras import build_catdog, build_tf2_fashion, build_tf_dcgan, build_vogue
from gankit.models.spec import ModelSpec
from gankit.models.tutorial_mlp import build_mlp

TUTORIAL_MODELS = {
    "tf-dcgan": ModelSpec(build_tf_dcgan, description="TensorFlow's DCGAN tutorial, layer for layer"),
    "tf2-fashion": ModelSpec(build_tf2_fashion, description="the TF2 Keras Fashion-MNIST GAN, layer for layer"),
    "catdog": ModelSpec(build_catdog, description="the Keras CIFAR-10 cats-and-dogs GAN, layer for layer"),
    "vogue": ModelSpec(build_vogue, description='the "GANs in Vogue" Keras tutorial, layer for layer'),
    "mlp": ModelSpec(build_mlp, description="the PyTorch MNIST study of GAN losses: fully connected G and D"),
}
