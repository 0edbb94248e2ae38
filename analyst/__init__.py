"""What analysts look at: the HTML report, full-text search and the data dictionary page (read-only)."""
