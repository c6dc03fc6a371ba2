//! The QEMU backend: boot a kernel with a generated initramfs and read its console.
