"""promotion stage."""
