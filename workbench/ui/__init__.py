"""ipywidgets explorers for interactive notebook use; not built yet."""
