# Environment helpers for job scripts (a small subset of LKP's lib/env.sh).

is_virt()
{
	grep -q -i -e hypervisor -e qemu /proc/cpuinfo 2>/dev/null
}

has_cmd()
{
	command -v "$1" >/dev/null 2>&1
}

nr_cpu()
{
	getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}
