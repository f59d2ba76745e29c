package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LockFile is the file in the data directory that a running server holds
// an exclusive lock on.
const LockFile = "hookd.lock"

// ErrStoreDirLocked is returned by Start when another process (or another
// server in this one) already runs on the data directory: two servers
// writing the same JetStream files would corrupt them.
var ErrStoreDirLocked = errors.New("data directory in use")

// lockStoreDir creates dir if needed and takes an exclusive, non-blocking
// lock on its LockFile, held until release is called (or the process
// ends: the kernel drops the lock with the process, so a crash leaves no
// stale lock behind).
func lockStoreDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory lock %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("embedded: data directory %s is used by another hookd (it holds the lock on %s): stop it, or give each server a directory of its own: %w",
				dir, path, ErrStoreDirLocked)
		}
		return nil, fmt.Errorf("embedded: data directory lock %s: %w", path, err)
	}
	// The holder's pid, for an operator looking at the directory; the
	// lock, not the content, is what counts.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}
