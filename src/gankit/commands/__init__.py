"""One module per verb after training, each a pure function of a run directory (or an export):
generate.py (+ walk.py, synthetic.py), evaluate.py, checks.py (--cas, --privacy), export.py,
options.py.
"""
