package cli

import (
	"bytes"
	"io"
	"sync"
)

var logsMu sync.Mutex

// syncWriter serialises writes from the server's goroutines with reads by
// the test.
type syncWriter struct{ w io.Writer }

func (s *syncWriter) Write(p []byte) (int, error) {
	logsMu.Lock()
	defer logsMu.Unlock()
	return s.w.Write(p)
}

func logsString(b *bytes.Buffer) string {
	logsMu.Lock()
	defer logsMu.Unlock()
	return b.String()
}
