"""The run as plain code: plan, read, store, parse, validate, load, publish. No Prefect here: the flows
decorate these functions (tasks, retries, artifacts), and tests call them directly."""
