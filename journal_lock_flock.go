//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package bitscale

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockWait is how long lockFile tries for a lock held elsewhere.
var lockWait = 250 * time.Millisecond

// lockFile takes an exclusive lock on f, held until f is closed, or fails
// if another open file holds it. A lock released a moment ago can still be
// held by a child process this one is starting, which between fork and
// exec shares every open file: the lock is tried for lockWait before it is
// taken to be another batch's.
func lockFile(f *os.File) error {
	fd := int(f.Fd())
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
