"""etl stage."""
