"""From the user's words to a running `train()`: catalog.py (shipped presets and studies by
name), presets.py (`build_config`: preset, --config, --set), validate.py (the cross-cutting
rules; each model checks its own), start.py (`start_run`: pre-flight, run directory,
config.json written once, train; used by the CLI and the sweep alike).
"""
