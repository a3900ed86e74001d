"""Job 3, campaign planning tables; not built yet."""
