"""Infrastructure every layer may use: atomic writes (atomic.py), image conversions and PNG/grid
writing (imageio.py), the one SHA-256 of a file and the one slug of a name (names.py).
"""
