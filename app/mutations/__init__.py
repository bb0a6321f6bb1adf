"""The write side: mutation inputs, the mutation service, its outcomes and problem codes,
the payInvoice saga and the relay that finishes what a request left unfinished."""
