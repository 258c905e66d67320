"""Who may see and do what: personal and classroom modes, the roster, per-learner limits."""
