/*
 * The kernel calls that place a thread. Real-time policies are set with
 * SCHED_RESET_ON_FORK, so that a program spawned from a real-time thread
 * (posix_spawn, vfork: no fork handler runs) does not start real-time.
 * Policy, priority and nice are read back with one sched_getattr.
 */
#include "place.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#define PLACE_FLAG_RESET_ON_FORK 0x01

/* The kernel's struct sched_attr, first version (48 bytes); named apart
 * from the one glibc 2.41 declares. Its fields are the kernel's to fill. */
struct place_sched_attr {
	uint32_t size; // cppcheck-suppress unusedStructMember
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	// cppcheck-suppress unusedStructMember
	uint64_t sched_runtime, sched_deadline, sched_period;
};

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

static void place_append(char *buf, size_t len, const char *text)
{
	size_t used = strlen(buf), length = strlen(text);

	if (used + length >= len)
		length = len - used - 1;
	memcpy(buf + used, text, length);
	buf[used + length] = '\0';
}

/* Adds "what ERRNO" (or just "what") to the result, after "ok" is gone. */
static void place_note(struct shim_placement *p, const char *what, int error)
{
	if (strcmp(p->result, "ok") == 0)
		p->result[0] = '\0';
	else
		place_append(p->result, sizeof(p->result), ", ");
	place_append(p->result, sizeof(p->result), what);
	if (error) {
		place_append(p->result, sizeof(p->result), " ");
		place_append(p->result, sizeof(p->result),
			     shim_errno_name(error));
	}
}

static const char *place_policy_name(int policy)
{
	switch (policy) {
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

static bool place_realtime(int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

/* A thread's policy, priority and nice: one sched_getattr where the
 * kernel has it (3.14 on) and it is allowed, else the older calls. 0, or
 * -1 with errno. */
static int place_read_sched(pid_t tid, struct shim_sched_value *value)
{
	struct place_sched_attr attr = { .size = sizeof(attr) };

	if (syscall(SYS_sched_getattr, tid, &attr, sizeof(attr), 0) == 0) {
		value->policy = (int)attr.sched_policy;
		value->priority = (int)attr.sched_priority;
		value->nice = attr.sched_nice;
		value->reset_on_fork =
			(attr.sched_flags & PLACE_FLAG_RESET_ON_FORK) != 0;
		/* The kernel reports nice only for the fair policies. */
		if (!place_realtime(value->policy))
			return 0;
	} else {
		/* Not there (ENOSYS), or refused (a seccomp filter, or a
		 * tool such as valgrind): the older calls. */
		struct sched_param param = { 0 };
		int policy = sched_getscheduler(tid);

		if (policy < 0)
			return -1;
		value->reset_on_fork = (policy & SCHED_RESET_ON_FORK) != 0;
		value->policy = policy & ~SCHED_RESET_ON_FORK;
		value->priority = 0;
		if (place_realtime(value->policy) &&
		    sched_getparam(tid, &param) == 0)
			value->priority = param.sched_priority;
	}
	errno = 0;
	value->nice = getpriority(PRIO_PROCESS, (id_t)tid);
	return errno ? -1 : 0;
}

size_t shim_kernel_setsize(void)
{
	cpu_set_t *probe = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	size_t found = CPULIST_SETSIZE;

	if (!probe)
		return found;
	for (size_t size = sizeof(unsigned long); size <= CPULIST_SETSIZE;
	     size *= 2)
		if (sched_getaffinity(0, size, probe) == 0) {
			found = size;
			break;
		}
	CPU_FREE(probe);
	return found;
}

static bool place_changes_sched(const struct plan_action *action)
{
	return action->policy != PLAN_POLICY_UNSET || action->has_nice;
}

void shim_place(const struct plan_action *action, pid_t tid, size_t setsize,
		bool read_back, struct shim_placement *p)
{
	struct shim_sched_value now = { 0 };
	bool have_now = false;
	int saved = errno;

	memcpy(p->result, "ok", 3);
	/* No CPU of the action online: nothing of it applies, neither the
	 * CPUs nor policy, priority or nice (plan.h). Only read back. */
	if (action->skipped) {
		place_note(p, "skipped: CPU not online", 0);
		goto done;
	}
	if (p->affinity_error)
		place_note(p, "affinity", p->affinity_error);
	else if (p->want && !p->affinity_done &&
		 sched_setaffinity(tid, setsize, p->want) != 0)
		place_note(p, "affinity", errno);

	/* What the thread had before the shim first changed it, for fork. */
	if (place_changes_sched(action) && p->sched && !p->sched->changed)
		p->sched->changed =
			place_read_sched(tid, &p->sched->before) == 0;
	if (action->policy != PLAN_POLICY_UNSET) {
		int policy = plan_policy_to_sched(action->policy);
		struct sched_param param = { .sched_priority =
						     action->priority };

		if (place_realtime(policy))
			policy |= SCHED_RESET_ON_FORK;
		else
			param.sched_priority = 0;
		if (sched_setscheduler(tid, policy, &param) != 0)
			place_note(p, "policy", errno);
	}
	if (action->has_nice &&
	    setpriority(PRIO_PROCESS, (id_t)tid, action->nice) != 0)
		place_note(p, "nice", errno);
	if (place_changes_sched(action) && p->sched && p->sched->changed) {
		have_now = place_read_sched(tid, &now) == 0;
		p->sched->after = now;
		p->sched->changed = have_now;
	}
done:
	if (!read_back) {
		errno = saved;
		return;
	}

	/* What the kernel says now, whatever was asked. */
	if (p->want)
		cpulist_format(p->want, setsize, p->want_text,
			       sizeof(p->want_text));
	else
		memcpy(p->want_text, "inherit", sizeof("inherit"));
	memset(p->now, 0, setsize);
	if (sched_getaffinity(tid, setsize, p->now) == 0)
		cpulist_format(p->now, setsize, p->cpus_text,
			       sizeof(p->cpus_text));
	else
		memcpy(p->cpus_text, "?", 2);
	if (!have_now)
		have_now = place_read_sched(tid, &now) == 0;
	p->policy = have_now ? place_policy_name(now.policy) : "?";
	p->priority = have_now ? now.priority : 0;
	p->has_nice = have_now;
	p->nice = now.nice;
	errno = saved;
}

void shim_sched_restore(const struct shim_sched *sched)
{
	const struct shim_sched_value *before = &sched->before;
	struct shim_sched_value now, left;
	int saved = errno;

	if (!sched->changed || place_read_sched(0, &now) != 0)
		goto out;
	/* What the fork made of the shim's setting (the kernel's
	 * SCHED_RESET_ON_FORK). Policy and nice are each put back only if
	 * they are still the shim's: one the program set itself stands. */
	left = sched->after;
	if (left.reset_on_fork && place_realtime(left.policy)) {
		left.policy = SCHED_OTHER;
		left.priority = 0;
		left.nice = 0;
	} else if (left.reset_on_fork && left.nice < 0) {
		left.nice = 0;
	}
	if (now.policy == left.policy && now.priority == left.priority &&
	    (now.policy != before->policy ||
	     now.priority != before->priority)) {
		struct sched_param param = { .sched_priority =
						     before->priority };
		int policy = before->policy;

		if (before->reset_on_fork)
			policy |= SCHED_RESET_ON_FORK;
		(void)sched_setscheduler(0, policy, &param);
	}
	if (now.nice == left.nice && now.nice != before->nice)
		(void)setpriority(PRIO_PROCESS, 0, before->nice);
out:
	errno = saved;
}
