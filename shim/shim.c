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
#include <gnu/libc-version.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
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

#include "build.h"
#include "log.h"
#include "lookup.h"
#include "place.h"
#include "plan.h"
#include "record.h"

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
static unsigned long long shim_seq; /* creation numbers: creation lock */
static pthread_mutex_t shim_creation_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t shim_setsize;	    /* bytes of a set, for the kernel */
static pid_t shim_pid;		    /* this process, for the log */
static bool shim_logging;	    /* read back and log placements */
static pthread_key_t shim_exit_key; /* its destructor ends a record */

/* Set while the shim's own code runs on this thread: anything it calls
 * that comes back into a wrapper goes straight to the real function. */
static SHIM_TLS int shim_busy;

/* Where the shim's own code formats and reads back: never the program's
 * stack, which may be small (SPEC: at most 1 KiB of it). */
struct shim_work {
	int slot; /* in the placement table, or -1 */
	struct shim_placement placement;
	struct shim_log_event event;
	char line[SHIM_LOG_BUFFER];
};

/* A thread the shim knows: one it created, from pthread_create until it
 * ends, or the main thread. A created one is owned by two, the creator
 * (until it has registered it) and the thread (until it exits), and
 * others that hold it for a moment; the last one frees it. */
struct shim_thread {
	void *(*start)(void *);
	void *arg;
	struct plan_thread facts;
	const struct plan_rule *creation_rule;
	bool is_main; /* named, never placed by a rule */

	/* the registry, under its bucket's lock */
	pthread_t handle;
	struct shim_thread *next;
	bool registered, exited;
	atomic_int owners;

	pthread_mutex_t lock;	      /* guards all below */
	const struct plan_rule *rule; /* the rule that placed it last */
	long want_cpu;		      /* the spread CPU chosen, or -1 */
	bool affinity_done;	      /* placed by pthread_create already */
	int affinity_error;	      /* pthread_create could not place it */
	bool named;		      /* by the program: rename stands aside */
	char name[16];		      /* its name, as the kernel keeps it */
	struct shim_sched sched;      /* for a process forked from it */
	struct shim_work work;
	cpu_set_t *want, *now; /* shim_setsize bytes each, below */
	_Alignas(cpu_set_t) unsigned char sets[];
};

static SHIM_TLS struct shim_thread *shim_self;
static struct shim_thread *shim_main;

/* Threads by pthread_t, so that pthread_setname_np of another thread
 * finds what placed it; a lock for each bucket, held only to link, unlink
 * or take a reference, never across a placement or a write. */
#define SHIM_BUCKETS 64
static struct shim_bucket {
	pthread_mutex_t lock;
	struct shim_thread *head;
} shim_registry[SHIM_BUCKETS];

static void shim_registry_init(void)
{
	for (size_t i = 0; i < SHIM_BUCKETS; i++) {
		pthread_mutex_init(&shim_registry[i].lock, NULL);
		shim_registry[i].head = NULL;
	}
}

/* Before glibc 2.34 a thread created with an affinity in its attr waits
 * for its creator in start_thread with asynchronous cancellation: a
 * pthread_cancel right after pthread_create ends it before its start
 * routine runs. There every thread places itself, in the trampoline. */
static bool shim_attr_placement;

static bool shim_glibc_at_least(unsigned major, unsigned minor)
{
	const char *v = gnu_get_libc_version();
	unsigned have_major = 0, have_minor = 0;

	while (*v >= '0' && *v <= '9')
		have_major = have_major * 10 + (unsigned)(*v++ - '0');
	if (*v++ != '.')
		return false;
	while (*v >= '0' && *v <= '9')
		have_minor = have_minor * 10 + (unsigned)(*v++ - '0');
	return have_major > major ||
	       (have_major == major && have_minor >= minor);
}

/* The shim's work on a thread adds no cancellation point: cancellation
 * waits, as it would have, for the program's own next one. */
static int shim_hold_cancel(void)
{
	int before = PTHREAD_CANCEL_ENABLE;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &before);
	return before;
}

static void shim_release_cancel(int before)
{
	int ignored;

	pthread_setcancelstate(before, &ignored);
}

static pid_t shim_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The kernel thread id behind a pthread_t of this process, with no
 * system call: glibc encodes it in the thread's CPU-time clock id (the
 * kernel's ABI for such clocks: ~tid << 3 | CPUCLOCK_PERTHREAD |
 * CPUCLOCK_SCHED). */
static pid_t shim_tid_of(pthread_t thread)
{
	clockid_t clock;

	if (pthread_getcpuclockid(thread, &clock) != 0 || (clock & 7) != 6)
		return 0;
	return (pid_t)(~(clock >> 3));
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

static struct shim_thread *shim_thread_new(void)
{
	struct shim_thread *record =
		calloc(1, sizeof(*record) + 2 * shim_setsize);

	if (!record)
		return NULL;
	record->want = (cpu_set_t *)record->sets;
	record->now = (cpu_set_t *)(record->sets + shim_setsize);
	record->want_cpu = -1;
	record->work.slot = -1;
	pthread_mutex_init(&record->lock, NULL);
	return record;
}

static void shim_thread_free(struct shim_thread *record)
{
	pthread_mutex_destroy(&record->lock);
	free(record);
}

static void shim_thread_release(struct shim_thread *record)
{
	if (atomic_fetch_sub(&record->owners, 1) == 1)
		shim_thread_free(record);
}

static struct shim_bucket *shim_bucket_of(pthread_t handle)
{
	return &shim_registry[((uintptr_t)handle >> 6) % SHIM_BUCKETS];
}

/* Called by the creator once pthread_create has succeeded. The thread
 * may have run and exited already: both find the bucket by the handle,
 * the thread by pthread_self(), so that they meet under one lock. */
static void shim_thread_register(struct shim_thread *record, pthread_t handle)
{
	struct shim_bucket *bucket = shim_bucket_of(handle);

	pthread_mutex_lock(&bucket->lock);
	record->handle = handle;
	if (!record->exited) {
		record->next = bucket->head;
		bucket->head = record;
		record->registered = true;
	}
	pthread_mutex_unlock(&bucket->lock);
	shim_thread_release(record);
}

/* The key's destructor: runs as the thread ends, however it ends. */
static void shim_thread_exit(void *opaque)
{
	struct shim_thread *record = opaque;
	struct shim_bucket *bucket = shim_bucket_of(pthread_self());

	shim_self = NULL;
	/* In a forked child the registry is left as the fork found it:
	 * nothing reads it there, and its locks may be held by threads
	 * that are not in the child. */
	if (atomic_load(&shim_role) != SHIM_TARGET) {
		shim_thread_release(record);
		return;
	}
	record_release(record->work.slot);
	pthread_mutex_lock(&bucket->lock);
	if (record->registered) {
		struct shim_thread **link = &bucket->head;

		while (*link && *link != record)
			link = &(*link)->next;
		if (*link)
			*link = record->next;
		record->registered = false;
	}
	record->exited = true;
	pthread_mutex_unlock(&bucket->lock);
	shim_thread_release(record);
}

/* The record of a thread by its handle, held (release it), or NULL. */
static struct shim_thread *shim_thread_find(pthread_t thread)
{
	struct shim_bucket *bucket = shim_bucket_of(thread);
	struct shim_thread *found = NULL;

	if (shim_main && pthread_equal(thread, shim_main->handle))
		return shim_main; /* never freed */
	pthread_mutex_lock(&bucket->lock);
	for (struct shim_thread *record = bucket->head; record;
	     record = record->next)
		if (pthread_equal(record->handle, thread)) {
			atomic_fetch_add(&record->owners, 1);
			found = record;
			break;
		}
	pthread_mutex_unlock(&bucket->lock);
	return found;
}

static void shim_thread_drop(struct shim_thread *record)
{
	if (record != shim_main)
		shim_thread_release(record);
}

static void shim_log_placement(struct shim_work *work, const char *event,
			       pid_t tid, const struct plan_thread *facts,
			       const char *name, const char *rule)
{
	const struct shim_placement *p = &work->placement;

	/* In the launched process only: a child has no table. */
	record_placement(&work->slot, tid, event, facts ? facts->seq : 0, rule,
			 p->want, shim_setsize, p->result);
	if (!shim_logging)
		return;
	work->event = (struct shim_log_event){
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
	clock_gettime(CLOCK_REALTIME, &work->event.ts);
	shim_log_write(&work->event, work->line);
}

static void shim_log_config(const char *message)
{
	struct shim_log_event e = {
		.event = "config",
		.pid = shim_pid,
		.tid = shim_gettid(),
		.message = message,
	};

	clock_gettime(CLOCK_REALTIME, &e.ts);
	shim_log_write(&e, shim_main->work.line);
}

static void shim_log_error(void *context, const char *text)
{
	(void)context;
	shim_log_config(text);
}

/* The CPUs to place on, as a set in want: a spread CPU, or the action's
 * whole set. False when the action leaves the CPUs alone. */
static bool shim_want(const struct plan_action *action, long cpu,
		      cpu_set_t *want)
{
	if (!action->set)
		return false;
	if (cpu < 0) {
		memcpy(want, action->set, shim_setsize);
	} else {
		CPU_ZERO_S(shim_setsize, want);
		CPU_SET_S((size_t)cpu, shim_setsize, want);
	}
	return true;
}

/* Starts a placement in record's work space. */
static struct shim_placement *shim_placement_of(struct shim_thread *record)
{
	struct shim_placement *p = &record->work.placement;

	memset(p, 0, sizeof(*p));
	p->now = record->now;
	p->sched = &record->sched;
	return p;
}

/* Places the whole process (its one thread, at load or after fork) by
 * action, with that thread's record, and logs it as event. */
static void shim_place_process(struct shim_thread *process,
			       struct plan_action *action, const char *event,
			       const char *rule, pid_t tid)
{
	struct shim_placement *p = shim_placement_of(process);

	if (shim_want(action, plan_action_next_cpu(action), process->want))
		p->want = process->want;
	shim_place(action, 0, shim_setsize, shim_logging, p);
	shim_log_placement(&process->work, event, tid, NULL, process->name,
			   rule);
}

/* In the new thread, before the program's start routine: the placement
 * chosen at creation, unless a name given meanwhile chose another. Kept
 * out of line so that its stack is gone when the program's code runs. */
static __attribute__((noinline)) void
shim_place_created(struct shim_thread *record)
{
	const struct plan_rule *rule = record->creation_rule;

	pthread_mutex_lock(&record->lock);
	if (rule && record->rule == rule) {
		const struct plan_action *action = &rule->action;
		struct shim_placement *p = shim_placement_of(record);

		if (action->rename[0] && !record->named) {
			shim_real.prctl(PR_SET_NAME,
					(unsigned long)action->rename, 0, 0, 0);
			memcpy(record->name, action->rename,
			       sizeof(record->name));
		}
		if (action->set)
			p->want = record->want;
		p->affinity_done = record->affinity_done;
		p->affinity_error = record->affinity_error;
		shim_place(action, 0, shim_setsize, shim_logging, p);
		shim_log_placement(&record->work, "thread",
				   shim_tid_of(pthread_self()), &record->facts,
				   record->name, rule->name);
	}
	pthread_mutex_unlock(&record->lock);
}

static void *shim_trampoline(void *opaque)
{
	struct shim_thread *record = opaque;
	void *(*start)(void *) = record->start;
	void *arg = record->arg;
	int saved = errno, cancel = shim_hold_cancel();

	shim_busy++;
	shim_self = record;
	/* Fails only without memory: the record then outlives the thread, a
	 * small leak rather than a use after free. */
	(void)pthread_setspecific(shim_exit_key, record);
	shim_place_created(record);
	shim_busy--;
	shim_release_cancel(cancel);
	errno = saved;
	return start(arg);
}

/* The kernel keeps the first 15 bytes of a name: so does the shim. */
static void shim_copy_name(char name[16], const char *given)
{
	size_t length = strnlen(given, 15);

	memcpy(name, given, length);
	name[length] = '\0';
}

/* A thread was named: note the name, and place the thread again if the
 * name picks another rule (never the main thread). */
static void shim_named(struct shim_thread *record, pid_t tid, const char *given)
{
	pthread_mutex_lock(&record->lock);
	record->named = true;
	shim_copy_name(record->name, given);
	if (!record->is_main) {
		struct plan_thread facts = record->facts;
		const struct plan_rule *rule;

		facts.name = record->name;
		rule = plan_match(&shim_plan, &facts);
		if (rule && rule != record->rule) {
			struct plan_action *action =
				(struct plan_action *)&rule->action;
			struct shim_placement *p = shim_placement_of(record);

			record->rule = rule;
			if (shim_want(action, plan_action_next_cpu(action),
				      record->want))
				p->want = record->want;
			shim_place(action, tid, shim_setsize, shim_logging, p);
			shim_log_placement(&record->work, "rename",
					   tid ? tid
					       : shim_tid_of(pthread_self()),
					   &facts, record->name, rule->name);
		}
	}
	pthread_mutex_unlock(&record->lock);
}

/* The forked child: placed on [children], and no rule applies to it. It
 * starts with the scheduling its thread had before the shim changed it,
 * and keeps no descriptor of the shim's. */
static void shim_after_fork_child(void)
{
	struct shim_thread *forker = shim_self;

	shim_pid = getpid();
	if (atomic_load(&shim_role) != SHIM_TARGET)
		return;
	atomic_store(&shim_role, SHIM_CHILD);
	shim_busy++;
	int cancel = shim_hold_cancel();

	record_forget();

	/* The child is the thread that forked, with its name; one the shim
	 * does not follow takes the main thread's work space and asks. */
	struct shim_thread *process = forker ? forker : shim_main;

	if (forker)
		shim_sched_restore(&forker->sched);
	else
		shim_real.prctl(PR_GET_NAME, (unsigned long)process->name, 0, 0,
				0);
	shim_place_process(process, &shim_plan.children, "child", "children",
			   shim_pid);
	shim_log_close();
	shim_logging = false;
	shim_release_cancel(cancel);
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

/* The plan, built as the launcher built it when it checked it: from the
 * config it chose (an empty KLIPPER_PIN_CONFIG is the built-in plan) and
 * its log overrides; the shim preloaded by hand chooses as it would. */
static int shim_load_plan(enum shim_role role)
{
	char config[PATH_MAX];
	struct plan_inputs inputs = {
		.config = config,
		.log = getenv("KLIPPER_PIN_LOG"),
		.log_format = getenv("KLIPPER_PIN_LOG_FORMAT"),
	};
	static struct plan_error error;
	int failed;

	failed = plan_choose_config(NULL, config, sizeof(config)) != 0 ||
		 plan_build(&shim_plan, &inputs, &error) != 0;
	if (failed && role != SHIM_TARGET)
		return -1;
	if (failed) {
		/* The launcher checked the config; it changed since, or the
		 * shim was preloaded by hand. Say so, then place nothing. */
		shim_plan.log = PLAN_LOG_STDERR;
		shim_log_open(&shim_plan);
		plan_error_each(&error, shim_log_error, NULL);
		shim_log_config("placing nothing");
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

/* The main thread's record: its name, its scheduling for fork, and the
 * work space of the placements made on the whole process. */
static int shim_main_init(void)
{
	shim_setsize = shim_kernel_setsize();
	shim_main = shim_thread_new();
	if (!shim_main)
		return -1;
	shim_main->is_main = true;
	shim_main->handle = pthread_self();
	atomic_init(&shim_main->owners, 1);
	shim_real.prctl(PR_GET_NAME, (unsigned long)shim_main->name, 0, 0, 0);
	shim_self = shim_main;
	return 0;
}

static void shim_init(void)
{
	const char *target = getenv("KLIPPER_PIN_PID");
	pid_t pid = getpid();
	enum shim_role role;
	int cancel = shim_hold_cancel();

	shim_pid = pid;
	shim_busy++;
	shim_bind();
	shim_attr_placement = shim_glibc_at_least(2, 34);
	/* A setuid or setgid program: trust nothing from the environment.
	 * KLIPPER_PIN_OFF: the launcher found the config invalid and runs
	 * the program unplaced (--on-error run); it logged why. */
	if (getauxval(AT_SECURE) || getenv("KLIPPER_PIN_OFF") ||
	    !shim_real.pthread_create ||
	    shim_real.pthread_create == pthread_create || !shim_real.prctl ||
	    !shim_real.pthread_setname_np)
		goto off;
	if (shim_main_init() != 0)
		goto off;
	role = target && *target && strtol(target, NULL, 10) != pid
		       ? SHIM_CHILD
		       : SHIM_TARGET;
	if (shim_load_plan(role) != 0)
		goto off;
	if (role == SHIM_TARGET) {
		shim_registry_init();
		record_open(pid, shim_plan.source, shim_plan.children.set,
			    CPULIST_SETSIZE);
		if (pthread_key_create(&shim_exit_key, shim_thread_exit) != 0)
			goto off;
		for (size_t i = 0; i < shim_plan.warning_count; i++)
			shim_log_config(shim_plan.warnings[i]);
		shim_place_process(shim_main, &shim_plan.main, "main", "main",
				   pid);
		pthread_atfork(NULL, NULL, shim_after_fork_child);
	} else {
		/* An exec'd child: placed once; the log closed again, so
		 * that the program sees no descriptor of ours. */
		shim_place_process(shim_main, &shim_plan.children, "child",
				   "children", pid);
		shim_log_close();
		shim_logging = false;
	}
	atomic_store(&shim_role, role);
	shim_busy--;
	shim_release_cancel(cancel);
	return;
off:
	atomic_store(&shim_role, SHIM_OFF);
	shim_busy--;
	shim_release_cancel(cancel);
}

/* At load, before the program's main, though not before every
 * constructor: a dependency's constructor runs first, and if it creates
 * a thread the shim starts up inside that pthread_create instead. */
__attribute__((constructor)) static void shim_load(void)
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

/* What a new thread starts with from its creator: its name, and its
 * scheduling as the shim left it; known when the creator is a thread the
 * shim knows, else the name is asked of the kernel. */
static void shim_creator_start(struct shim_thread *record)
{
	struct shim_thread *creator = shim_self;

	if (!creator) {
		shim_real.prctl(PR_GET_NAME, (unsigned long)record->name, 0, 0,
				0);
		return;
	}
	pthread_mutex_lock(&creator->lock);
	memcpy(record->name, creator->name, sizeof(record->name));
	record->sched = creator->sched;
	pthread_mutex_unlock(&creator->lock);
}

SHIM_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			       void *(*start)(void *), void *arg)
{
	/* One byte back: inside the call instruction, not after it. */
	const char *caller = (const char *)__builtin_return_address(0) - 1;
	pthread_attr_t placed;
	bool use_placed = false;
	const char *ignored;
	int saved = errno, result;

	if (!shim_busy) {
		shim_busy++;
		pthread_once(&shim_once, shim_init);
		shim_busy--;
		errno = saved;
	}
	if (!shim_active()) {
		if (!shim_real.pthread_create)
			return EAGAIN;
		return shim_real.pthread_create(thread, attr, start, arg);
	}

	/* No cancellation point from here to the real call: dladdr, calloc
	 * and the locks are none. shim_busy stays raised to the end, so that
	 * a signal handler creating a thread meanwhile goes straight to the
	 * real call rather than wait for the lock its thread holds. */
	shim_busy++;
	struct plan_thread facts = { 0 };
	shim_lookup((const void *)start, &facts.library, &facts.symbol);
	shim_lookup(caller, &facts.caller, &ignored);

	/* Numbers and spread turns go to the threads created: one creation
	 * at a time, so that one that fails gives its number back. */
	pthread_mutex_lock(&shim_creation_lock);
	facts.seq = ++shim_seq;
	const struct plan_rule *rule = plan_match(&shim_plan, &facts);
	struct plan_action *action =
		rule ? (struct plan_action *)&rule->action : NULL;
	struct shim_thread *record = NULL;
	unsigned long turn = 0;

	/* A thread inherits its creator's scheduling: where the shim changed
	 * that, the thread is followed too, for the processes it forks. */
	if (rule || plan_may_match_named(&shim_plan, &facts) ||
	    (shim_self && shim_self->sched.changed))
		record = shim_thread_new();
	if (record) {
		record->start = start;
		record->arg = arg;
		record->facts = facts;
		record->creation_rule = rule;
		record->rule = rule;
		atomic_init(&record->owners, 2);
		shim_creator_start(record);
	}
	if (record && action) {
		record->want_cpu = plan_action_take_turn(action, &turn);
		/* With no attr of the program's, glibc places the thread
		 * before it first runs, from the program's own thread
		 * defaults (pthread_setattr_default_np); with an attr of
		 * its own, the thread places itself. */
		if (shim_want(action, record->want_cpu, record->want) &&
		    shim_attr_placement && !attr &&
		    pthread_getattr_default_np(&placed) == 0) {
			use_placed = pthread_attr_setaffinity_np(
					     &placed, shim_setsize,
					     record->want) == 0;
			if (!use_placed)
				pthread_attr_destroy(&placed);
		}
		record->affinity_done = use_placed;
	}

	errno = saved;
	if (!record) {
		result = shim_real.pthread_create(thread, attr, start, arg);
	} else {
		result = shim_real.pthread_create(thread,
						  use_placed ? &placed : attr,
						  shim_trampoline, record);
		if (result != 0 && use_placed) {
			/* The placement failed the creation (a CPU the
			 * cgroup forbids): create it unplaced, as it would
			 * have been. */
			record->affinity_done = false;
			record->affinity_error = result;
			errno = saved;
			result = shim_real.pthread_create(
				thread, attr, shim_trampoline, record);
		}
	}
	saved = errno;
	if (result != 0) {
		shim_seq--;
		if (record && record->want_cpu >= 0)
			plan_action_give_back_turn(action, turn);
	}
	pthread_mutex_unlock(&shim_creation_lock);

	if (use_placed)
		pthread_attr_destroy(&placed);
	if (result != 0 && record)
		shim_thread_free(record);
	else if (record)
		shim_thread_register(record, *thread);
	shim_busy--;
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
		int saved = errno, cancel = shim_hold_cancel();

		/* prctl passes the name's address as an unsigned long. */
		// NOLINTNEXTLINE(performance-no-int-to-ptr)
		const char *name = (const char *)arg2;

		shim_busy++;
		shim_named(shim_self, 0, name);
		shim_busy--;
		shim_release_cancel(cancel);
		errno = saved;
	}
	return result;
}

/* Exported as "prctl" whatever the header calls it: with _TIME_BITS=64 on
 * 32-bit ARM, glibc's <sys/prctl.h> renames prctl to __prctl_time64, and
 * programs built so call that name; programs built without, the other.
 * Declared with prctl's four further arguments rather than "...": on
 * every Linux ABI the shim is built for (x86-64, arm64, armhf) integer
 * arguments of a variadic call arrive where a fixed one's do, and no
 * va_list register save area takes room on the program's stack. */
SHIM_EXPORT int shim_prctl_export(int option, unsigned long arg2,
				  unsigned long arg3, unsigned long arg4,
				  unsigned long arg5) __asm__("prctl");
SHIM_EXPORT int shim_prctl_export(int option, unsigned long arg2,
				  unsigned long arg3, unsigned long arg4,
				  unsigned long arg5)
{
	return shim_prctl(option, arg2, arg3, arg4, arg5);
}

#if defined(__TIMESIZE) && __TIMESIZE != 64
/* The same function under the other name. */
SHIM_EXPORT int
shim_prctl_time64_export(int option, unsigned long arg2, unsigned long arg3,
			 unsigned long arg4,
			 unsigned long arg5) __asm__("__prctl_time64")
	__attribute__((alias("prctl")));
#endif

SHIM_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
	struct shim_thread *other = NULL;
	int result, saved, cancel;
	bool active, self;

	if (!shim_real.pthread_setname_np)
		shim_bind();
	if (!shim_real.pthread_setname_np)
		return ENOSYS;
	active = shim_active();
	self = pthread_equal(thread, pthread_self());
	if (active && !self) {
		/* Marked named before the name is set, so that a thread not
		 * yet started does not put its rule's rename over it. */
		saved = errno;
		cancel = shim_hold_cancel();
		shim_busy++;
		other = shim_thread_find(thread);
		if (other && strlen(name) < 16) {
			pthread_mutex_lock(&other->lock);
			other->named = true;
			pthread_mutex_unlock(&other->lock);
		}
		shim_busy--;
		shim_release_cancel(cancel);
		errno = saved;
	}
	result = shim_real.pthread_setname_np(thread, name);
	if (result == 0 && active && (other || (self && shim_self))) {
		saved = errno;
		cancel = shim_hold_cancel();
		shim_busy++;
		if (self)
			shim_named(shim_self, 0, name);
		else
			shim_named(other, shim_tid_of(thread), name);
		shim_busy--;
		shim_release_cancel(cancel);
		errno = saved;
	}
	if (other) {
		shim_busy++;
		shim_thread_drop(other);
		shim_busy--;
	}
	return result;
}
