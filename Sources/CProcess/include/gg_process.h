#ifndef GG_PROCESS_H
#define GG_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

/// Resource limits set in a child before it runs its program; 0 leaves one unchanged.
typedef struct gg_process_limits {
    uint64_t address_space_bytes;
    uint64_t file_size_bytes;
    uint64_t cpu_seconds;
    uint64_t open_files;
} gg_process_limits;

/// Starts `path` with `argv` and `envp` in a new process group of its own (its id is the child's pid),
/// in `directory` when not NULL, with the given limits, standard input/output/error on the three
/// descriptors, every other descriptor closed and signal dispositions reset. The group is registered,
/// so gg_process_kill_all reaches it until gg_process_forget. Returns the pid, or -1 with errno set
/// (also when the program could not be executed).
pid_t gg_process_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                       int stdin_fd, int stdout_fd, int stderr_fd, const gg_process_limits *limits);

/// A pipe whose ends close on exec (pipe2 with O_CLOEXEC); 0 or -1 with errno.
int gg_process_pipe(int fds[2]);

/// Waits up to `milliseconds` for child `pid` to end, on a pidfd (no polling): 1 once it has ended (or is
/// gone), 0 when the time ran out, -1 when the kernel has no pidfd_open (before Linux 5.3).
int gg_process_wait_exit(pid_t pid, int milliseconds);

/// Removes a reaped child's group from the registry.
void gg_process_forget(pid_t group);

/// Sends `signal` to every registered process group; async-signal-safe.
void gg_process_kill_all(int signal);

/// SIGTERM or SIGINT received before the program took the signals over itself (0 if none).
int gg_process_pending_stop_signal(void);

#endif
