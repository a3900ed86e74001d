"""Job 4, post-promotion review; not built yet."""
