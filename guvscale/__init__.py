"""GuvScale: deadline-driven autoscaling of Heroku worker dynos fed by RabbitMQ."""

__version__ = "0.1.0"
