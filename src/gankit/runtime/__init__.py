"""Where and how the maths runs: the device (device.py), torchrun/DDP (distributed.py), mixed
precision and torch.compile (precision.py), every RNG as one dict (rng.py).  Models and losses
never see a device or a process group.
"""
