"""Folder datasets: your own ``images/`` + ``depth/`` pairs, read like NYU's file (``docs/own_data.md``)."""
