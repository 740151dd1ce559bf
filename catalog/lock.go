package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir for the life of the process: two
// servers sharing one embedded catalog would overwrite each other's
// writes. The kernel drops the lock when the process dies, even by
// SIGKILL, so a crashed server never leaves a stale lock behind.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock catalog directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("catalog directory %s is in use by another sluice server", dir)
		}
		return nil, fmt.Errorf("lock catalog directory: %w", err)
	}
	return f, nil
}
