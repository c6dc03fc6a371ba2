/*
 * The assignment's test program: exercises the course_add system call (number 451).
 *
 *   course_add exists          the system call exists (it does not fail with ENOSYS)
 *   course_add add A B SUM     course_add(A, B) returns SUM
 *   course_add overflow        course_add(INT_MAX, 1) fails with EOVERFLOW
 *
 * Exits 0 when the check passes; otherwise prints what it saw and exits 1.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_course_add
#define __NR_course_add 451
#endif

static long course_add(int a, int b)
{
	return syscall(__NR_course_add, a, b);
}

int main(int argc, char **argv)
{
	long r;

	if (argc >= 2 && strcmp(argv[1], "exists") == 0) {
		errno = 0;
		r = course_add(0, 0);
		if (r == -1 && errno == ENOSYS) {
			printf("course_add is not a system call of this kernel (ENOSYS)\n");
			return 1;
		}
		printf("course_add exists\n");
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "add") == 0) {
		int a = atoi(argv[2]), b = atoi(argv[3]), sum = atoi(argv[4]);

		errno = 0;
		r = course_add(a, b);
		if (r != sum) {
			printf("course_add(%d, %d) = %ld (errno %d), expected %d\n", a, b, r, errno, sum);
			return 1;
		}
		printf("course_add(%d, %d) = %ld\n", a, b, r);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "overflow") == 0) {
		errno = 0;
		r = course_add(INT_MAX, 1);
		if (r != -1 || errno != EOVERFLOW) {
			printf("course_add(INT_MAX, 1) = %ld (errno %d), expected -1 with EOVERFLOW\n", r, errno);
			return 1;
		}
		printf("course_add(INT_MAX, 1) fails with EOVERFLOW\n");
		return 0;
	}
	fprintf(stderr, "usage: course_add exists | add A B SUM | overflow\n");
	return 2;
}
