//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bitscale

import (
	"errors"
	"os"
)

// lockFile does nothing where the SDK has no file locks: one journal must
// then not be given to two batches at once.
func lockFile(*os.File) error { return nil }

// errLocked is never returned here; journal.go names it.
var errLocked = errors.New("held by another open file")
