-- Run once by the postgres image on an empty data directory (POSTGRES_DB creates `feast`).
CREATE DATABASE mlflow;
