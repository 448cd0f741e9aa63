"""Documents: files read into translatable blocks with their inline tags, and written back in the
same format with the blocks translated (``document.py`` the shared types, one module per format)."""
