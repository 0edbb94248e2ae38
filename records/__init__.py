"""Records shared by every layer (extract, transform, load, service, flows): plain data, no behaviour that
reaches outside the process. pages.py: what a source yields and what the store knows of a page."""
