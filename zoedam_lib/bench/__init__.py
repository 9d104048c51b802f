"""``python -m zoedam_lib bench``: every case in its own process (:mod:`.process`), listed in :mod:`.registry`."""
