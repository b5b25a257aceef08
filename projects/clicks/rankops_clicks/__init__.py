"""The clicks project: who clicks what. A click-through-rate model trained from the same raw search
logs as the platform's ranker, through the platform's stages (see README.md beside this package)."""

NAME = "clicks"
