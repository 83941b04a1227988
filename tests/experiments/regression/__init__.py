"""Tests of the regression suite, one file per module of ``experiments/regression/``."""
