"""gankit: train Generative Adversarial Networks on image datasets, explore the techniques
that make them work, and measure the result honestly.  See docs/architecture.md."""

__version__ = "0.1.0"
