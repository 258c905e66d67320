"""Streamlit-only helpers shared by the pages: session keys, cached loaders, small widgets."""
