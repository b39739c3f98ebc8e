"""Plots and the HTML report: pure functions of a run directory."""
