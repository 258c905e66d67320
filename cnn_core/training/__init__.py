"""A run's training: the fit loop, callbacks, the live record, checkpoints, schedules, fine-tuning, diagnosis."""
