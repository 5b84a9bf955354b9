/*
 * The kernel calls that place a thread. Real-time policies are set with
 * SCHED_RESET_ON_FORK, so that a process forked from a real-time thread
 * does not start real-time on the children's CPUs.
 */
#include "place.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

const char *shim_errno_name(int error)
{
	switch (error) {
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case EACCES:
		return "EACCES";
	case ESRCH:
		return "ESRCH";
	case EAGAIN:
		return "EAGAIN";
	case ENOMEM:
		return "ENOMEM";
	case EFAULT:
		return "EFAULT";
	case EBUSY:
		return "EBUSY";
	}
	return "error";
}

/* Adds "what ERRNO" (or just "what") to the result, after "ok" is gone. */
static void place_note(struct shim_placement *p, const char *what, int error)
{
	bool first = strcmp(p->result, "ok") == 0;
	size_t used = first ? 0 : strlen(p->result);

	snprintf(p->result + used, sizeof(p->result) - used, "%s%s%s%s",
		 first ? "" : ", ", what, error ? " " : "",
		 error ? shim_errno_name(error) : "");
}

static const char *place_policy_name(int policy)
{
	switch (policy & ~SCHED_RESET_ON_FORK) {
	case SCHED_OTHER:
		return "other";
	case SCHED_BATCH:
		return "batch";
	case SCHED_IDLE:
		return "idle";
	case SCHED_FIFO:
		return "fifo";
	case SCHED_RR:
		return "rr";
	}
	return "unknown";
}

size_t shim_kernel_setsize(void)
{
	cpu_set_t probe[CPULIST_SETSIZE / sizeof(cpu_set_t)];

	for (size_t size = sizeof(unsigned long); size <= CPULIST_SETSIZE;
	     size *= 2)
		if (sched_getaffinity(0, size, probe) == 0)
			return size;
	return CPULIST_SETSIZE;
}

void shim_place(const struct plan_action *action, pid_t tid, size_t setsize,
		bool read_back, struct shim_placement *p)
{
	cpu_set_t now[CPULIST_SETSIZE / sizeof(cpu_set_t)];
	int saved = errno;

	snprintf(p->result, sizeof(p->result), "ok");
	if (action->skipped)
		place_note(p, "skipped: CPU not online", 0);
	if (p->affinity_error)
		place_note(p, "affinity", p->affinity_error);
	else if (p->want && !p->affinity_done &&
		 sched_setaffinity(tid, setsize, p->want) != 0)
		place_note(p, "affinity", errno);

	if (action->policy != PLAN_POLICY_UNSET) {
		int policy = plan_policy_to_sched(action->policy);
		struct sched_param param = { .sched_priority = action->priority };

		if (policy == SCHED_FIFO || policy == SCHED_RR)
			policy |= SCHED_RESET_ON_FORK;
		else
			param.sched_priority = 0;
		if (sched_setscheduler(tid, policy, &param) != 0)
			place_note(p, "policy", errno);
	}
	if (action->has_nice && setpriority(PRIO_PROCESS, (id_t)tid,
					    action->nice) != 0)
		place_note(p, "nice", errno);
	if (!read_back) {
		errno = saved;
		return;
	}

	/* What the kernel says now, whatever was asked. */
	if (p->want)
		cpulist_format(p->want, setsize, p->want_text,
			       sizeof(p->want_text));
	else
		snprintf(p->want_text, sizeof(p->want_text), "inherit");
	memset(now, 0, setsize);
	if (sched_getaffinity(tid, setsize, now) == 0)
		cpulist_format(now, setsize, p->cpus_text,
			       sizeof(p->cpus_text));
	else
		snprintf(p->cpus_text, sizeof(p->cpus_text), "?");
	int policy = sched_getscheduler(tid);
	struct sched_param param = { 0 };

	p->policy = policy < 0 ? "?" : place_policy_name(policy);
	p->priority = 0;
	policy &= ~SCHED_RESET_ON_FORK;
	if ((policy == SCHED_FIFO || policy == SCHED_RR) &&
	    sched_getparam(tid, &param) == 0)
		p->priority = param.sched_priority;
	errno = 0;
	p->nice = getpriority(PRIO_PROCESS, (id_t)tid);
	p->has_nice = errno == 0;
	errno = saved;
}
