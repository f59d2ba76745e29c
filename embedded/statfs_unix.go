//go:build unix

package embedded

import "syscall"

// freeSpace returns the bytes an unprivileged process may still write to
// the filesystem holding dir.
func freeSpace(dir string) (int64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return int64(fs.Bavail) * int64(fs.Bsize), nil //nolint:unconvert // field types differ across platforms
}
