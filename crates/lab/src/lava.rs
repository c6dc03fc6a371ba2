//! The LAVA backend: hand a boot-and-test job to a LAVA lab.
