//go:build !unix

package embedded

import "errors"

// freeSpace is not known here: storage counts as full only once JetStream
// failed a write.
func freeSpace(string) (int64, error) { return 0, errors.New("free space not known on this platform") }
