-- Run by the postgres image on first start (empty data directory only).
-- MLflow's tracking store gets its own database; Sextant services keep "sextant".
CREATE DATABASE mlflow OWNER sextant;
