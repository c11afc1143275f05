// Tests for the Registry module.
