"""Data residency: the gateway's records of money (idempotency results, saga state, outbox
rows, settlement watch rows, domain events) are kept in the database of the business's
jurisdiction, its `country` in the invoicing service (GB or IN; the RBI's rules on storage
of payment system data want Indian businesses' payment data stored in India).

`DATABASE_URL_GB` and `DATABASE_URL_IN` name the databases (both default to
`DATABASE_URL`); jurisdictions whose URLs are equal share one engine and one set of
background workers, so the default is exactly one database as before. Each distinct
database is a region (app/residency/regions.py) with its own stores and workers: one
region's database being down stops none of the other's payments."""
