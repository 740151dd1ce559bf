package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockStateDir takes an exclusive lock on a `sluice run` state directory
// for the life of the process, so that two runs never checkpoint the same
// pipelines in it: each would resume from, and overwrite, the other's
// checkpoints. The kernel drops the lock when the process ends, even by
// SIGKILL, so a crash leaves no stale lock. The holder's process id is
// written in the lock file for the message of the one refused.
func lockStateDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another sluice process"
			if b, err := os.ReadFile(path); err == nil {
				if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil {
					holder = fmt.Sprintf("another sluice process (pid %d)", pid)
				}
			}
			return nil, &exitError{code: 1, msg: fmt.Sprintf("state directory %s is in use by %s: two runs on one state directory would overwrite each other's checkpoints; stop that process, or give this run its own -state-dir", dir, holder)}
		}
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
