"""Runs on disk: the store, the folder's schema, history, atomic writes, liveness, run zips."""
