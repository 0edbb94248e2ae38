"""The only code that writes DuckDB: raw store, warehouse tables, history, publishing."""
from load.projects import DuplicateKeys, load_run
from load.publish import publish
from load.raw import (has_body, known_pages, latest_hashes, latest_raw_pages, loaded_hashes, store_raw,
                      stored_pages, unloaded_keys)
from load.warehouse import Warehouse, WarehouseBusy, work_path_for

__all__ = ["DuplicateKeys", "Warehouse", "has_body", "known_pages", "latest_hashes", "loaded_hashes", "WarehouseBusy", "latest_raw_pages", "load_run", "publish",
           "store_raw", "stored_pages", "unloaded_keys", "work_path_for"]
