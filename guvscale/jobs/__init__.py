"""Work done off the request path, kept in the database so restarts lose nothing."""
