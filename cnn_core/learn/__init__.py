"""The Learn page's numpy explainer."""
