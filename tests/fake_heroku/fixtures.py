"""pytest fixtures for the fake Heroku server (filled in by its author)."""
