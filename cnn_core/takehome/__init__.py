"""What a user takes home: the plain-Keras script, the deployable model, the report."""
