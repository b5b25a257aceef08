"""Model cards and data sheets: what a reviewer reads about a model version or a gold snapshot."""
