//! Initramfs images for the machine under test (cpio newc + gzip, deterministic).
