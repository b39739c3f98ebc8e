"""The run directory, the unit of work: layout.py (`RunDir` and `StudyDir` own every file name),
checkpoint.py (safetensors state, no pickle), load.py (a model rebuilt from a checkpoint or an
export alone: one `LoadedRun` type for generate, evaluate and export).
"""
