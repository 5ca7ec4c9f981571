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
//
// It returns errLocked when the lock stays held, and the system's error
// when it cannot lock at all (such as ENOLCK on some network file systems).
func lockFile(f *os.File) error {
	fd := int(f.Fd())
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		case time.Now().After(deadline):
			return errLocked
		}
		time.Sleep(5 * time.Millisecond)
	}
}
