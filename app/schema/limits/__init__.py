"""Limits on one GraphQL request, all checked before any resolver runs, so a refused
document costs no downstream call: tokens (while parsing), directives, aliases and depth
(from the document alone), then page sizes and cost (with the request's variables)."""
