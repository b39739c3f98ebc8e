"""The only place model state changes.  loop.py (`train`: D step, G step, EMA, log, upkeep),
upkeep.py (checkpoints, health, rollback, evaluation, samples, why to stop), state.py (one
object saved and restored whole), objectives.py (the loss object: what D sees, D's and G's
losses; losses.py, penalties.py, targets.py, diffaugment.py), augment_real.py, ema.py (+ the
Sampler), optim.py + clock.py, health.py, monitor.py, logger.py, transfer.py.
"""
