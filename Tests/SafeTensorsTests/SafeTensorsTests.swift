// Tests for the SafeTensors module.
