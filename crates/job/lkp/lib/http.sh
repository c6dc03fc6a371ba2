# HTTP helpers for job scripts: curl, else wget, else busybox wget.

http_get_file()
{
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL -o "$2" "$1"
	else
		wget -q -O "$2" "$1"
	fi
}

http_get_cgi()
{
	http_get_file "$1" /dev/null
}
