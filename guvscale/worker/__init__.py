"""The scaling worker: `guvscale worker` (see guvscale.worker.run).

Each tick it claims due tenants through PostgreSQL leases, reads their
queues and formations, decides with `guvscale.scaling.Scaler` and applies one
batch PATCH per app. Pure parts (formation.py, rates.py) take values and
return values; tenant.py does the I/O of one tenant; store.py the database.
"""
