"""Tests of the service: compose wiring, secured MLflow, regression suite, schedule, replay."""
