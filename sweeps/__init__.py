"""sweeps: many runs — Optuna studies, workers, schedules, and the `bplab` CLI."""
