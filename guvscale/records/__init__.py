"""What the worker records: per-role time series (partitioned, rolled up) and scaling events."""
