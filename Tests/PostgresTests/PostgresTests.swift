// Tests for the Postgres module.
