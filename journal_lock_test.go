//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package bitscale

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestJournalFileTakesALockReleasedWhileItWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "batch.journal")
	held, err := OpenJournalFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// As a child process being started holds the lock of a journal just
	// closed: released a moment after the open began.
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = time.Minute
	opening := make(chan struct{})
	go func() {
		<-opening
		time.Sleep(20 * time.Millisecond)
		held.Close()
	}()
	close(opening)
	j, err := OpenJournalFile(path)
	if err != nil {
		t.Fatalf("OpenJournalFile gave up on a lock released while it waited: %v", err)
	}
	j.Close()

	// A lock that stays held is refused once the wait is over.
	lockWait = 10 * time.Millisecond
	j, err = OpenJournalFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := OpenJournalFile(path); !errors.Is(err, ErrJournalLocked) {
		t.Fatalf("second open: %v, want ErrJournalLocked", err)
	}
}
