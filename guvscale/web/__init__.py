"""The HTTP face of GuvScale: partner API, SSO, dashboard, health."""
