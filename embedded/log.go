package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// slogAdapter implements the nats-server Logger interface on slog.
type slogAdapter struct {
	log *slog.Logger
	// fatal, when set, is told every fatal message (see fatalHook).
	fatal func(msg string)
	// writeErrors, when set, is signalled (without blocking) when the
	// server reports a failed write to its store (see Storage).
	writeErrors chan<- struct{}
}

func (a *slogAdapter) logf(level slog.Level, format string, v []any) {
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	a.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.logf(slog.LevelWarn, format, v) }
func (a *slogAdapter) Fatalf(format string, v ...any) {
	if a.fatal != nil {
		a.fatal(fmt.Sprintf(format, v...))
	}
	a.logf(slog.LevelError, format, v)
}
func (a *slogAdapter) Errorf(format string, v ...any) {
	if a.writeErrors != nil && isWriteError(fmt.Sprintf(format, v...)) {
		select {
		case a.writeErrors <- struct{}{}:
		default:
		}
	}
	a.logf(slog.LevelError, format, v)
}

// isWriteError recognises the server's reports of a store write that
// failed: "JetStream stream '...' critical write error: ...", "Critical
// write error: ...", "JetStream failed to store a msg on stream ...",
// "JetStream out of space, will be DISABLED", "... no space left on
// device".
func isWriteError(msg string) bool {
	for _, s := range []string{"write error", "no space left", "out of space", "out of resources", "failed to store"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (a *slogAdapter) Debugf(format string, v ...any) { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any) { a.logf(slog.LevelDebug-4, format, v) }
