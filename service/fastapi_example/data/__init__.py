"""The SQL each resource's routes run, one module per resource, on db.Database."""
