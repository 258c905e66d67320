"""A spec, its plan and a Keras model: presets, the builder, the summary with its formulas, model files."""
