"""Use cases behind the routes and jobs. Services flush; the caller commits."""
