"""experiments: one tracked run — config, data, the training loop, MLflow tracking, artifacts."""
