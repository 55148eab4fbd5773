"""What the dashboard shows, computed: pure pieces (charts, diffs, annotated
rules, cost, preview) and the reads that feed them (`queries`)."""
