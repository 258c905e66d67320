"""What a user can set, declared once: the fields, the run's configuration, the share link."""
