"""``clinlink serve``: the annotation pipeline as an HTTP service (FastAPI on uvicorn) with a page to try it."""
