"""Job 2, segmentation (repurchase cycle, lifecycle tiers, RFM, ...); not built yet."""
