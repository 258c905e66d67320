"""Sweeps: many trainings of the same model with 1-4 settings varied, searched and pruned by Optuna.

A sweep's definition and its Optuna study (SQLite) live in `<runs dir>/.sweeps/<sweep id>/`, out
of the Runs list; every trial is a normal run that records its sweep and trial number. `space`
reads the varied settings, `definition` holds a sweep and its folder, `study` is the Optuna side,
`driver` runs the trials as jobs (this machine or the Ray cluster), `service` keeps the server's
sweeps, `charts` and `report` draw them.
"""
