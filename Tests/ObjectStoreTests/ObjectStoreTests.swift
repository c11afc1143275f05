// Tests for the ObjectStore module.
