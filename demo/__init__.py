"""The end-to-end demo of the jobs example (``python -m demo``)."""
