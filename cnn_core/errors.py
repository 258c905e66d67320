"""The one exception type for errors a user can cause, with a message written for that user."""


class StudioError(Exception):
    """A refusal or failure the user can act on: pages show it with `st.error`, the CLI prints it."""
