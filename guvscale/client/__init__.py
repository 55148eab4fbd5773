"""The command-line client of the config API (`guvscale config ...`)."""
