/*
 * libklipper-pin.so: the preload library. It interposes pthread_create,
 * prctl (PR_SET_NAME) and pthread_setname_np; places the main thread at
 * load, each created thread before it runs any of the program's code, and
 * each thread again when it names itself; and places child processes on
 * the [children] CPUs. Whatever fails, the program runs as it would have
 * without it: real return values and errno, the thread merely unplaced.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lookup.h"
#include "place.h"
#include "plan.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *,
				 void *(*)(void *), void *);
typedef int (*prctl_fn)(int, unsigned long, unsigned long, unsigned long,
			unsigned long);
typedef int (*pthread_setname_np_fn)(pthread_t, const char *);

/* The real functions, bound once. */
static struct {
	pthread_create_fn pthread_create;
	prctl_fn prctl;
	pthread_setname_np_fn pthread_setname_np;
} shim_real;

enum shim_role {
	SHIM_OFF,    /* places nothing: setuid, bad config, no plan */
	SHIM_TARGET, /* the launched process: [main] and [thread] rules */
	SHIM_CHILD,  /* a child of it: placed once on [children] */
};

static atomic_int shim_role = SHIM_OFF;
static pthread_once_t shim_once = PTHREAD_ONCE_INIT;
static struct plan shim_plan;
static _Atomic unsigned long long shim_seq; /* creation numbers */
static size_t shim_setsize;            /* bytes of a set, for the kernel */
static pid_t shim_pid;                 /* this process, for the log */
static bool shim_logging;              /* read back and log placements */
static pthread_key_t shim_exit_key;    /* its destructor ends a record */

/* Set while the shim's own code runs on this thread: anything it calls
 * that comes back into a wrapper goes straight to the real function. */
static SHIM_TLS int shim_busy;

/* A thread the shim created, from pthread_create until it ends. Owned by
 * two: the creator (until it has registered it) and the thread (until it
 * exits); the last one frees it. */
struct shim_thread {
	void *(*start)(void *);
	void *arg;
	struct plan_thread facts;
	const struct plan_rule *creation_rule;

	pthread_mutex_t lock;          /* guards the placement fields */
	const struct plan_rule *rule;  /* the rule that placed it last */
	long want_cpu;                 /* the spread CPU chosen, or -1 */
	bool affinity_done;            /* placed by pthread_create already */
	int affinity_error;            /* pthread_create could not place it */

	/* the registry, under shim_registry_lock */
	pthread_t handle;
	struct shim_thread *next;
	bool registered, exited;
	atomic_int owners;
};

static SHIM_TLS struct shim_thread *shim_self;

/* Threads by pthread_t, so that pthread_setname_np of another thread
 * finds what placed it. */
#define SHIM_BUCKETS 64
static pthread_mutex_t shim_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_thread *shim_registry[SHIM_BUCKETS];

static pid_t shim_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void shim_bind(void)
{
	/* dlsym(RTLD_NEXT) finds the next definition after this library,
	 * in libc (or libpthread before glibc 2.34), never naming either. */
	if (!shim_real.pthread_create)
		shim_real.pthread_create =
			(pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (!shim_real.prctl)
		shim_real.prctl = (prctl_fn)dlsym(RTLD_NEXT, "prctl");
	if (!shim_real.pthread_setname_np)
		shim_real.pthread_setname_np = (pthread_setname_np_fn)dlsym(
			RTLD_NEXT, "pthread_setname_np");
}

static size_t shim_bucket(pthread_t handle)
{
	return ((uintptr_t)handle >> 6) % SHIM_BUCKETS;
}

static void shim_thread_release(struct shim_thread *record)
{
	if (atomic_fetch_sub(&record->owners, 1) == 1) {
		pthread_mutex_destroy(&record->lock);
		free(record);
	}
}

/* Called by the creator once pthread_create has succeeded. */
static void shim_thread_register(struct shim_thread *record, pthread_t handle)
{
	pthread_mutex_lock(&shim_registry_lock);
	if (!record->exited) {
		size_t bucket = shim_bucket(handle);

		record->handle = handle;
		record->next = shim_registry[bucket];
		shim_registry[bucket] = record;
		record->registered = true;
	}
	pthread_mutex_unlock(&shim_registry_lock);
	shim_thread_release(record);
}

/* The key's destructor: runs as the thread ends, however it ends. */
static void shim_thread_exit(void *opaque)
{
	struct shim_thread *record = opaque;

	shim_self = NULL;
	pthread_mutex_lock(&shim_registry_lock);
	if (record->registered) {
		struct shim_thread **link =
			&shim_registry[shim_bucket(record->handle)];

		while (*link && *link != record)
			link = &(*link)->next;
		if (*link)
			*link = record->next;
		record->registered = false;
	}
	record->exited = true;
	pthread_mutex_unlock(&shim_registry_lock);
	shim_thread_release(record);
}

static void shim_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static void shim_log_placement(const char *event, pid_t tid,
			       const struct plan_thread *facts,
			       const char *name, const char *rule,
			       const struct shim_placement *p)
{
	if (!shim_logging)
		return;
	struct shim_log_event e = {
		.event = event,
		.pid = shim_pid,
		.tid = tid,
		.seq = facts ? facts->seq : 0,
		.library = facts ? facts->library : NULL,
		.symbol = facts ? facts->symbol : NULL,
		.caller = facts ? facts->caller : NULL,
		.name = name,
		.rule = rule,
		.want = p->want_text,
		.cpus = p->cpus_text,
		.policy = p->policy,
		.priority = p->priority,
		.has_nice = p->has_nice,
		.nice = p->nice,
		.result = p->result,
	};

	shim_now(&e.ts);
	shim_log_write(&e);
}

static void shim_log_config(const char *message)
{
	struct shim_log_event e = {
		.event = "config",
		.pid = shim_pid,
		.tid = shim_gettid(),
		.message = message,
	};

	shim_now(&e.ts);
	shim_log_write(&e);
}

/* The CPUs to place on, as a set in want: a spread CPU, or the action's
 * whole set. False when the action leaves the CPUs alone. */
static bool shim_want(const struct plan_action *action, long cpu,
		      cpu_set_t *want)
{
	if (!action->set)
		return false;
	if (cpu < 0) {
		memcpy(want, action->set, CPULIST_SETSIZE);
	} else {
		CPU_ZERO_S(CPULIST_SETSIZE, want);
		CPU_SET_S((size_t)cpu, CPULIST_SETSIZE, want);
	}
	return true;
}

/* Places the whole process (its one thread, at load or after fork) by
 * action and logs it as event. */
static void shim_place_process(struct plan_action *action, const char *event,
			       const char *rule)
{
	cpu_set_t want[CPULIST_SETSIZE / sizeof(cpu_set_t)];
	struct shim_placement p = { 0 };
	char name[16] = "";
	pid_t tid = shim_gettid();

	if (shim_want(action, plan_action_next_cpu(action), want))
		p.want = want;
	shim_place(action, tid, shim_setsize, shim_logging, &p);
	if (shim_logging)
		shim_real.prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
	shim_log_placement(event, tid, NULL, name, rule, &p);
}

/* In the new thread, before the program's start routine: the placement
 * chosen at creation, unless a name given meanwhile chose another. Kept
 * out of line so that its stack is gone when the program's code runs. */
static __attribute__((noinline)) void shim_place_created(
	struct shim_thread *record)
{
	cpu_set_t want[CPULIST_SETSIZE / sizeof(cpu_set_t)];
	const struct plan_rule *rule = record->creation_rule;
	struct shim_placement p = { 0 };
	char name[16] = "";
	pid_t tid = shim_gettid();

	pthread_mutex_lock(&record->lock);
	if (rule && record->rule == rule) {
		const struct plan_action *action = &rule->action;

		if (action->rename[0])
			shim_real.prctl(PR_SET_NAME, (unsigned long)action->rename,
					0, 0, 0);
		if (shim_want(action, record->want_cpu, want))
			p.want = want;
		p.affinity_done = record->affinity_done;
		p.affinity_error = record->affinity_error;
		shim_place(action, tid, shim_setsize, shim_logging, &p);
		if (shim_logging)
			shim_real.prctl(PR_GET_NAME, (unsigned long)name,
					0, 0, 0);
		shim_log_placement("thread", tid, &record->facts, name,
				   rule->name, &p);
	}
	pthread_mutex_unlock(&record->lock);
}

static void *shim_trampoline(void *opaque)
{
	struct shim_thread *record = opaque;
	void *(*start)(void *) = record->start;
	void *arg = record->arg;
	int saved = errno;

	shim_busy++;
	shim_self = record;
	/* Fails only without memory: the record then outlives the thread, a
	 * small leak rather than a use after free. */
	(void)pthread_setspecific(shim_exit_key, record);
	shim_place_created(record);
	shim_busy--;
	errno = saved;
	return start(arg);
}

/* A thread of ours was named: place it again if the name picks another
 * rule. Called with the registry lock or from the thread itself. */
static void shim_named(struct shim_thread *record, pid_t tid,
		       const char *given)
{
	cpu_set_t want[CPULIST_SETSIZE / sizeof(cpu_set_t)];
	struct shim_placement p = { 0 };
	char name[16];
	struct plan_thread facts = record->facts;
	const struct plan_rule *rule;

	/* The kernel keeps the first 15 bytes; match what it keeps. */
	snprintf(name, sizeof(name), "%s", given);
	facts.name = name;
	rule = plan_match(&shim_plan, &facts);

	pthread_mutex_lock(&record->lock);
	if (rule && rule != record->rule) {
		struct plan_action *action =
			(struct plan_action *)&rule->action;

		record->rule = rule;
		if (shim_want(action, plan_action_next_cpu(action), want))
			p.want = want;
		shim_place(action, tid, shim_setsize, shim_logging, &p);
		shim_log_placement("rename", tid, &facts, name, rule->name, &p);
	}
	pthread_mutex_unlock(&record->lock);
}

/* The kernel thread id behind a pthread_t of this process: glibc encodes
 * it in the thread's CPU-time clock id (the kernel's ABI for such clocks:
 * ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED). */
static pid_t shim_tid_of(pthread_t thread)
{
	clockid_t clock;

	if (pthread_getcpuclockid(thread, &clock) != 0 || (clock & 7) != 6)
		return 0;
	return (pid_t)~(clock >> 3);
}

static void shim_named_other(pthread_t thread, const char *name)
{
	pid_t tid = shim_tid_of(thread);

	if (tid <= 0)
		return;
	pthread_mutex_lock(&shim_registry_lock);
	for (struct shim_thread *record = shim_registry[shim_bucket(thread)];
	     record; record = record->next)
		if (pthread_equal(record->handle, thread)) {
			shim_named(record, tid, name);
			break;
		}
	pthread_mutex_unlock(&shim_registry_lock);
}

static void shim_before_fork(void)
{
	pthread_mutex_lock(&shim_registry_lock);
}

static void shim_after_fork_parent(void)
{
	pthread_mutex_unlock(&shim_registry_lock);
}

/* The forked child: placed on [children], and no rule applies to it. */
static void shim_after_fork_child(void)
{
	pthread_mutex_init(&shim_registry_lock, NULL);
	shim_pid = getpid();
	if (atomic_load(&shim_role) != SHIM_TARGET)
		return;
	atomic_store(&shim_role, SHIM_CHILD);
	shim_busy++;
	shim_place_process(&shim_plan.children, "child", "children");
	shim_busy--;
}

/* Is our stderr the one the launcher had ("dev:inode" in the
 * environment)? */
static bool shim_same_stderr(void)
{
	const char *launched = getenv("KLIPPER_PIN_STDERR");
	char mine[64];
	struct stat info;

	if (!launched || fstat(STDERR_FILENO, &info) != 0)
		return false;
	snprintf(mine, sizeof(mine), "%llu:%llu",
		 (unsigned long long)info.st_dev,
		 (unsigned long long)info.st_ino);
	return strcmp(mine, launched) == 0;
}

/* The plan: the launcher's config (it checked it already), else
 * /etc/klipper-pin.conf, else the built-in plan. */
static int shim_load_plan(enum shim_role role)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	const char *path = getenv("KLIPPER_PIN_CONFIG");
	const char *log = getenv("KLIPPER_PIN_LOG");
	const char *format = getenv("KLIPPER_PIN_LOG_FORMAT");
	struct plan_error error = { .line = 0 };
	int failed;

	if (!online)
		return -1;
	if (cpulist_read_online(online, CPULIST_SETSIZE) != 0) {
		CPU_FREE(online);
		return -1;
	}
	shim_setsize = shim_kernel_setsize();
	if ((!path || !*path) && access("/etc/klipper-pin.conf", F_OK) == 0)
		path = "/etc/klipper-pin.conf";
	if (path && *path)
		failed = plan_load_file(&shim_plan, path, &error) ||
			 plan_resolve(&shim_plan, online, CPULIST_SETSIZE,
				      &error);
	else
		failed = plan_load_default(&shim_plan, online, CPULIST_SETSIZE);
	CPU_FREE(online);
	if (!failed && log && *log)
		failed = plan_set_log(&shim_plan, log, &error);
	if (!failed && format && *format)
		failed = plan_set_log_format(&shim_plan, format, &error);
	if (failed && role != SHIM_TARGET) {
		plan_free(&shim_plan);
		return -1;
	}
	if (failed) {
		/* The launcher checked the config; it changed since, or the
		 * shim was preloaded by hand. Say so, then place nothing. */
		char message[900];

		snprintf(message, sizeof(message),
			 "%s:%d: %s: placing nothing", error.file, error.line,
			 error.message);
		plan_free(&shim_plan);
		shim_plan.log = PLAN_LOG_STDERR;
		shim_log_open(&shim_plan);
		shim_log_config(message);
		shim_log_close();
		return -1;
	}
	/* A child's stderr may be a pipe its parent reads: log there only
	 * when it is the launched program's own stderr. */
	if (role == SHIM_CHILD && shim_plan.log == PLAN_LOG_STDERR &&
	    !shim_same_stderr())
		shim_plan.log = PLAN_LOG_NONE;
	shim_logging = shim_log_open(&shim_plan) == 0 &&
		       shim_plan.log != PLAN_LOG_NONE;
	return 0;
}

static void shim_init(void)
{
	const char *target = getenv("KLIPPER_PIN_PID");
	pid_t pid = getpid();
	enum shim_role role;

	shim_pid = pid;
	shim_busy++;
	shim_bind();
	/* A setuid or setgid program: trust nothing from the environment. */
	if (getauxval(AT_SECURE) || !shim_real.pthread_create ||
	    shim_real.pthread_create == pthread_create || !shim_real.prctl ||
	    !shim_real.pthread_setname_np)
		goto off;
	role = target && *target && strtol(target, NULL, 10) != pid
		       ? SHIM_CHILD
		       : SHIM_TARGET;
	if (shim_load_plan(role) != 0)
		goto off;
	if (role == SHIM_TARGET) {
		if (pthread_key_create(&shim_exit_key, shim_thread_exit) != 0)
			goto off;
		for (size_t i = 0; i < shim_plan.warning_count; i++)
			shim_log_config(shim_plan.warnings[i]);
		shim_place_process(&shim_plan.main, "main", "main");
	} else {
		shim_place_process(&shim_plan.children, "child", "children");
	}
	pthread_atfork(shim_before_fork, shim_after_fork_parent,
		       shim_after_fork_child);
	atomic_store(&shim_role, role);
	shim_busy--;
	return;
off:
	atomic_store(&shim_role, SHIM_OFF);
	shim_busy--;
}

/* Runs first among constructors, before the program's own code. */
__attribute__((constructor(101))) static void shim_load(void)
{
	int saved = errno;

	pthread_once(&shim_once, shim_init);
	errno = saved;
}

/* True when the wrappers should act on this thread's call. */
static bool shim_active(void)
{
	if (shim_busy)
		return false;
	if (!shim_real.pthread_create)
		shim_bind();
	return atomic_load_explicit(&shim_role, memory_order_acquire) ==
	       SHIM_TARGET;
}

SHIM_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*start)(void *), void *arg)
{
	/* One byte back: inside the call instruction, not after it. */
	const char *caller = (const char *)__builtin_return_address(0) - 1;
	cpu_set_t want[CPULIST_SETSIZE / sizeof(cpu_set_t)];
	pthread_attr_t placed;
	bool use_placed = false;
	const char *ignored;
	int saved = errno, result;

	if (!shim_busy) {
		shim_busy++;
		pthread_once(&shim_once, shim_init);
		shim_busy--;
	}
	if (!shim_active()) {
		if (!shim_real.pthread_create)
			return EAGAIN;
		return shim_real.pthread_create(thread, attr, start, arg);
	}

	shim_busy++;
	struct plan_thread facts = {
		.seq = atomic_fetch_add(&shim_seq, 1) + 1,
	};
	shim_lookup((const void *)start, &facts.library, &facts.symbol);
	shim_lookup(caller, &facts.caller, &ignored);
	const struct plan_rule *rule = plan_match(&shim_plan, &facts);
	struct shim_thread *record = NULL;

	if (rule || plan_may_match_named(&shim_plan, &facts))
		record = calloc(1, sizeof(*record));
	if (!record) {
		shim_busy--;
		errno = saved;
		return shim_real.pthread_create(thread, attr, start, arg);
	}
	record->start = start;
	record->arg = arg;
	record->facts = facts;
	record->creation_rule = rule;
	record->rule = rule;
	record->want_cpu = -1;
	atomic_init(&record->owners, 2);
	pthread_mutex_init(&record->lock, NULL);
	if (rule) {
		struct plan_action *action = (struct plan_action *)&rule->action;

		record->want_cpu = plan_action_next_cpu(action);
		/* With no attr of the program's, glibc places the thread
		 * before it first runs; with one, the thread places itself. */
		if (!attr && shim_want(action, record->want_cpu, want) &&
		    pthread_attr_init(&placed) == 0) {
			use_placed = pthread_attr_setaffinity_np(
					     &placed, shim_setsize, want) == 0;
			if (!use_placed)
				pthread_attr_destroy(&placed);
		}
	}
	record->affinity_done = use_placed;
	shim_busy--;

	errno = saved;
	result = shim_real.pthread_create(thread, use_placed ? &placed : attr,
					  shim_trampoline, record);
	if (result != 0 && use_placed) {
		/* The placement failed the creation (a CPU the cgroup
		 * forbids): create it unplaced, as it would have been. */
		record->affinity_done = false;
		record->affinity_error = result;
		errno = saved;
		result = shim_real.pthread_create(thread, attr, shim_trampoline,
						  record);
	}
	saved = errno;
	if (use_placed)
		pthread_attr_destroy(&placed);
	if (result != 0) {
		pthread_mutex_destroy(&record->lock);
		free(record);
	} else {
		shim_thread_register(record, *thread);
	}
	errno = saved;
	return result;
}

/* The prctl wrapper: the real call, then a new name's placement. */
static int shim_prctl(int option, unsigned long arg2, unsigned long arg3,
		      unsigned long arg4, unsigned long arg5)
{
	int result;

	if (!shim_real.prctl)
		shim_bind();
	if (!shim_real.prctl) {
		errno = ENOSYS;
		return -1;
	}
	result = shim_real.prctl(option, arg2, arg3, arg4, arg5);
	if (option == PR_SET_NAME && result == 0 && shim_active() &&
	    shim_self) {
		int saved = errno;

		shim_busy++;
		/* prctl passes the name's address as an unsigned long. */
		shim_named(shim_self, shim_gettid(),
			   (const char *)arg2); // NOLINT(performance-no-int-to-ptr)
		shim_busy--;
		errno = saved;
	}
	return result;
}

/* Exported as "prctl" whatever the header calls it: with _TIME_BITS=64 on
 * 32-bit ARM, glibc's <sys/prctl.h> renames prctl to __prctl_time64, and
 * programs built so call that name; programs built without, the other. */
SHIM_EXPORT int shim_prctl_export(int option, ...) __asm__("prctl");
SHIM_EXPORT int shim_prctl_export(int option, ...)
{
	unsigned long arg2, arg3, arg4, arg5;
	va_list args;

	/* prctl takes up to four more arguments; pass on what came. */
	va_start(args, option);
	arg2 = va_arg(args, unsigned long);
	arg3 = va_arg(args, unsigned long);
	arg4 = va_arg(args, unsigned long);
	arg5 = va_arg(args, unsigned long);
	va_end(args);
	return shim_prctl(option, arg2, arg3, arg4, arg5);
}

#if defined(__TIMESIZE) && __TIMESIZE != 64
/* The same function under the other name. */
SHIM_EXPORT int shim_prctl_time64_export(int option, ...)
	__asm__("__prctl_time64") __attribute__((alias("prctl")));
#endif

SHIM_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
	int result;

	if (!shim_real.pthread_setname_np)
		shim_bind();
	if (!shim_real.pthread_setname_np)
		return ENOSYS;
	result = shim_real.pthread_setname_np(thread, name);
	if (result == 0 && shim_active()) {
		int saved = errno;

		shim_busy++;
		if (pthread_equal(thread, pthread_self())) {
			if (shim_self)
				shim_named(shim_self, shim_gettid(), name);
		} else {
			shim_named_other(thread, name);
		}
		shim_busy--;
		errno = saved;
	}
	return result;
}
