/*
 * The assignment's test program: exercises the course_add system call (number 451),
 *
 *   long course_add(int a, int b, int *sum);   0, or -1 with errno EOVERFLOW or EFAULT
 *
 *   course_add exists          the system call exists (it does not fail with ENOSYS)
 *   course_add add A B SUM     course_add(A, B, &s) returns 0 and stores SUM in s
 *   course_add overflow        course_add(INT_MAX, 1, &s) fails with EOVERFLOW
 *   course_add bad-address     course_add(1, 2, <unmapped>) fails with EFAULT
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

static long course_add(int a, int b, int *sum)
{
	return syscall(__NR_course_add, a, b, sum);
}

int main(int argc, char **argv)
{
	long r;
	int sum = 0;

	if (argc >= 2 && strcmp(argv[1], "exists") == 0) {
		errno = 0;
		r = course_add(0, 0, &sum);
		if (r == -1 && errno == ENOSYS) {
			printf("course_add is not a system call of this kernel (ENOSYS)\n");
			return 1;
		}
		printf("course_add exists\n");
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "add") == 0) {
		int a = atoi(argv[2]), b = atoi(argv[3]), want = atoi(argv[4]);

		errno = 0;
		sum = ~want;
		r = course_add(a, b, &sum);
		if (r != 0 || sum != want) {
			printf("course_add(%d, %d) = %ld (errno %d), sum %d, expected 0 and sum %d\n",
			       a, b, r, errno, sum, want);
			return 1;
		}
		printf("course_add(%d, %d) = 0, sum %d\n", a, b, sum);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "overflow") == 0) {
		errno = 0;
		r = course_add(INT_MAX, 1, &sum);
		if (r != -1 || errno != EOVERFLOW) {
			printf("course_add(INT_MAX, 1) = %ld (errno %d), sum %d, expected -1 with EOVERFLOW\n",
			       r, errno, sum);
			return 1;
		}
		printf("course_add(INT_MAX, 1) fails with EOVERFLOW\n");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "bad-address") == 0) {
		errno = 0;
		/* The first page is never mapped. */
		r = course_add(1, 2, (int *)8);
		if (r != -1 || errno != EFAULT) {
			printf("course_add(1, 2, (int *)8) = %ld (errno %d), expected -1 with EFAULT\n",
			       r, errno);
			return 1;
		}
		printf("course_add(1, 2, (int *)8) fails with EFAULT\n");
		return 0;
	}
	fprintf(stderr, "usage: course_add exists | add A B SUM | overflow | bad-address\n");
	return 2;
}
