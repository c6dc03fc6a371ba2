#!/usr/bin/env bash
# Writes the students' series of this sample assignment (series/*.mbox) from a linux-source-6.1
# git tree (.ci/linux-tree makes one), the way `git format-patch` mails them. The mboxes are
# committed; run this again only to regenerate them.
#
#   examples/syscall-course/make-series.sh [LINUX_TREE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:-${GAUNTLET_LINUX_TREE:-$HOME/.cache/gauntlet/linux-6.1}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/scratch.git
git clone -q --bare --shared "$tree" "$repo"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# edit PARENT FILE PERL-SUBSTITUTION: the blob of FILE at PARENT with the substitution applied
edit() {
    git -C "$repo" show "$1:$2" | perl -0pe "$3" | git -C "$repo" hash-object -w --stdin
}
# commit PARENT SUBJECT BODY FILE=BLOB...: a commit of those blobs on PARENT (no checkout)
commit() {
    local parent=$1 subject=$2 body=$3 index=$tmp/index tree
    shift 3
    rm -f "$index"
    GIT_INDEX_FILE=$index git -C "$repo" read-tree "$parent"
    for pair in "$@"; do
        GIT_INDEX_FILE=$index git -C "$repo" update-index --cacheinfo "100644,${pair#*=},${pair%%=*}"
    done
    tree=$(GIT_INDEX_FILE=$index git -C "$repo" write-tree)
    printf '%s\n\n%s\n\nSigned-off-by: %s <%s>\n' "$subject" "$body" "$GIT_AUTHOR_NAME" "$GIT_AUTHOR_EMAIL" \
        | git -C "$repo" commit-tree "$tree" -p "$parent"
}

# series NAME STUDENT EMAIL DATE IMPLEMENTATION: a three-patch series with a cover letter
series() {
    local name=$1 implementation=$5 master p1 p2 p3 out
    export GIT_AUTHOR_NAME=$2 GIT_AUTHOR_EMAIL=$3 GIT_COMMITTER_NAME=$2 GIT_COMMITTER_EMAIL=$3
    export GIT_AUTHOR_DATE=$4 GIT_COMMITTER_DATE=$4
    master=$(git -C "$repo" rev-parse master)
    p1=$(commit "$master" "kernel: add the course_add system call" \
"course_add(a, b, sum) stores the sum of two integers at the user
address sum. It fails with EOVERFLOW when the sum does not fit in an
int, and with EFAULT when sum cannot be written. (A system call cannot
return a small negative number as a result: the C library would read
it as an error, hence the pointer.) It is the system call of the
operating systems course's first assignment." \
        "kernel/sys.c=$(IMPL=$implementation edit "$master" kernel/sys.c 's/(\n#ifdef CONFIG_COMPAT\nstruct compat_sysinfo \{)/\n$ENV{IMPL}$1/')" \
        "include/linux/syscalls.h=$(edit "$master" include/linux/syscalls.h 's/(\t\t\t\t\t    unsigned long flags\);\n)/$1asmlinkage long sys_course_add(int a, int b, int __user *sum);\n/')")
    p2=$(commit "$p1" "x86: wire up the course_add system call" \
"Give course_add the number 451 in the x86_64 system call table." \
        "arch/x86/entry/syscalls/syscall_64.tbl=$(edit "$p1" arch/x86/entry/syscalls/syscall_64.tbl 's/(450\tcommon\tset_mempolicy_home_node\tsys_set_mempolicy_home_node\n)/${1}451\tcommon\tcourse_add\t\tsys_course_add\n/')")
    p3=$(commit "$p2" "asm-generic: wire up the course_add system call" \
"Give course_add the number 451 in the generic system call table,
which arm64 uses." \
        "include/uapi/asm-generic/unistd.h=$(edit "$p2" include/uapi/asm-generic/unistd.h 's/(__SYSCALL\(__NR_set_mempolicy_home_node, sys_set_mempolicy_home_node\)\n)/$1#define __NR_course_add 451\n__SYSCALL(__NR_course_add, sys_course_add)\n/; s/#define __NR_syscalls 451/#define __NR_syscalls 452/')")
    out=$tmp/$name
    git -C "$repo" format-patch -q --cover-letter --thread=shallow --base=master -o "$out" "$master..$p3"
    perl -0pi -e 's/\*\*\* SUBJECT HERE \*\*\*/add the course_add system call/; s/\*\*\* BLURB HERE \*\*\*/This series adds the course_add system call (number 451) and wires it\nup on x86_64 and arm64./' "$out"/0000-cover-letter.patch
    cat "$out"/*.patch > "$here/series/$name.mbox"
    echo "series/$name.mbox: $(grep -c '^Subject:' "$here/series/$name.mbox") mails"
}

good='/*
 * course_add - store the sum of @a and @b at @sum
 *
 * Returns 0, -EOVERFLOW when the sum does not fit in an int, or -EFAULT when
 * @sum cannot be written.
 */
SYSCALL_DEFINE3(course_add, int, a, int, b, int __user *, sum)
{
	int result;

	if (check_add_overflow(a, b, &result))
		return -EOVERFLOW;
	return put_user(result, sum);
}
'
wrapping='/*
 * course_add - store the sum of @a and @b at @sum
 */
SYSCALL_DEFINE3(course_add, int, a, int, b, int __user *, sum)
{
	return put_user(a + b, sum);
}
'
series good "Chiara Esposito" chiara.esposito@student.example.org 2026-10-12T09:30:00Z "$good"
series no-overflow-check "Tomás Ruiz" tomas.ruiz@student.example.org 2026-10-12T10:45:00Z "$wrapping"
