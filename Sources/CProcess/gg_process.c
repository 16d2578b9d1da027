#define _GNU_SOURCE
#include "gg_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GG_MAX_GROUPS 1024

static volatile pid_t groups[GG_MAX_GROUPS];
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t exit_hook_once = PTHREAD_ONCE_INIT;

static void kill_all_at_exit(void) { gg_process_kill_all(SIGKILL); }
static void install_exit_hook(void) { atexit(kill_all_at_exit); }

static void remember(pid_t group) {
    pthread_once(&exit_hook_once, install_exit_hook);
    pthread_mutex_lock(&groups_lock);
    for (int i = 0; i < GG_MAX_GROUPS; i++) {
        if (groups[i] == 0) {
            groups[i] = group;
            break;
        }
    }
    pthread_mutex_unlock(&groups_lock);
}

int gg_process_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gg_process_wait_exit(pid_t pid, int milliseconds) {
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return errno == ESRCH ? 1 : -1;
    struct pollfd watched = { .fd = fd, .events = POLLIN, .revents = 0 };
    int ready;
    do {
        ready = poll(&watched, 1, milliseconds);
    } while (ready < 0 && errno == EINTR);
    close(fd);
    return ready > 0 ? 1 : 0;
}

void gg_process_forget(pid_t group) {
    pthread_mutex_lock(&groups_lock);
    for (int i = 0; i < GG_MAX_GROUPS; i++) {
        if (groups[i] == group) groups[i] = 0;
    }
    pthread_mutex_unlock(&groups_lock);
}

void gg_process_kill_all(int signal) {
    for (int i = 0; i < GG_MAX_GROUPS; i++) {
        pid_t group = groups[i];
        if (group > 0) kill(-group, signal);
    }
}

static void set_limit(int resource, uint64_t value) {
    if (value == 0) return;
    struct rlimit limit = {(rlim_t)value, (rlim_t)value};
    setrlimit(resource, &limit);
}

static void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = first; fd < (max > 0 && max < 65536 ? max : 65536); fd++) close(fd);
}

/* Only async-signal-safe calls between fork and exec: the parent has other threads. */
static void run_child(const char *path, char *const argv[], char *const envp[], const char *directory, int in, int out, int err,
                      const gg_process_limits *limits, int report) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    if (limits) {
        set_limit(RLIMIT_AS, limits->address_space_bytes);
        set_limit(RLIMIT_FSIZE, limits->file_size_bytes);
        set_limit(RLIMIT_CPU, limits->cpu_seconds);
        set_limit(RLIMIT_NOFILE, limits->open_files);
    }
    int code = 0;
    if (directory && chdir(directory) != 0) code = errno;
    /* Move the report pipe above the standard descriptors before they are replaced. */
    if (!code && report < 3) {
        int moved = fcntl(report, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) code = errno; else report = moved;
    }
    int wanted[3] = {in, out, err};
    int lifted[3];
    for (int i = 0; i < 3 && !code; i++) {
        lifted[i] = wanted[i] >= 0 ? fcntl(wanted[i], F_DUPFD, 3) : open("/dev/null", O_RDWR);
        if (lifted[i] < 0) code = errno;
    }
    for (int i = 0; i < 3 && !code; i++) {
        if (dup2(lifted[i], i) < 0) code = errno;
    }
    if (!code) {
        int keep = report + 1;
        for (int fd = 3; fd < report; fd++) close(fd);
        close_from(keep);
        execve(path, argv, envp);
        code = errno;
    }
    ssize_t ignored = write(report, &code, sizeof code);
    (void)ignored;
    _exit(127);
}

pid_t gg_process_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                       int stdin_fd, int stdout_fd, int stderr_fd, const gg_process_limits *limits) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_child(path, argv, envp, directory, stdin_fd, stdout_fd, stderr_fd, limits, report[1]);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        errno = saved;
        return -1;
    }
    setpgid(pid, pid);
    remember(pid);
    int code = 0;
    ssize_t got;
    do { got = read(report[0], &code, sizeof code); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof code) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        gg_process_forget(pid);
        errno = code;
        return -1;
    }
    return pid;
}

/* Every gg program notes SIGTERM and SIGINT from the moment it is loaded, before Swift's runtime and
   main run, instead of dying of them: a stage signalled during its start-up (run.sh passes a signal to
   all its stages at once) would otherwise die with the records in its pipe. StageRunner then takes the
   signals through dispatch sources and acts on one noted before (gg_process_pending_stop_signal). */
static volatile sig_atomic_t gg_noted_stop_signal = 0;

static void gg_note_stop_signal(int signal_number) { gg_noted_stop_signal = signal_number; }

__attribute__((constructor)) static void gg_note_stop_signals_from_load(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = gg_note_stop_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

int gg_process_pending_stop_signal(void) { return gg_noted_stop_signal; }
