"""Who trains: the job registry and queue, the in-process thread, the Ray actor and cluster."""
