// Tests for the Catalog module.
