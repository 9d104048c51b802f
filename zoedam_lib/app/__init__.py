"""The local demo app, ``python -m zoedam_lib app --checkpoint SOURCE`` (see ``docs/app.md``).

:mod:`.outputs` (prediction and files) and :mod:`.colorbar` work without Gradio; :mod:`.ui`
builds and serves the page and needs the optional extra, ``pip install -e ".[app]"``.
"""
