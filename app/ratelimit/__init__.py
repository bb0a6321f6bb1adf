"""Per-caller request budgets: token buckets weighted by what a request costs, kept in
this process or shared by every gateway process through Redis."""
