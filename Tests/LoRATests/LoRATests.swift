// Tests for the LoRA module.
