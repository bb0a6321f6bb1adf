"""Building blocks shared by both sandbox services."""
