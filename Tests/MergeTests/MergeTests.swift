// Tests for the Merge module.
