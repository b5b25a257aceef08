"""datagen stage."""
