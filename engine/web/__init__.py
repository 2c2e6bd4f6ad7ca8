"""The web application (``engine.web.app.create_app``): JSON API, staff board, customer page."""
