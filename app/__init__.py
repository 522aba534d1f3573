"""gatescope's server: a FastAPI app over the `cells` engine (see app/main.py)."""
