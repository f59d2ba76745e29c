//go:build !unix

package embedded

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

// lockFile does nothing where flock is not available: the data directory
// is not protected from a second server there.
func lockFile(*os.File) error { return nil }
