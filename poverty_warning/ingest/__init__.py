"""Landing: read each feed file, check every row, quarantine with reasons, write the Parquet lake."""
