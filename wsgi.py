"""Entry point for gunicorn (`gunicorn wsgi:server`) and for `flask --app wsgi …`."""
from webapp import create_app

server = app = create_app()
