package embedded

import (
	"context"
	"fmt"
	"log/slog"
)

// slogAdapter implements the nats-server Logger interface on slog.
type slogAdapter struct {
	log *slog.Logger
	// fatal, when set, is told every fatal message (see fatalHook).
	fatal func(msg string)
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
func (a *slogAdapter) Errorf(format string, v ...any) { a.logf(slog.LevelError, format, v) }
func (a *slogAdapter) Debugf(format string, v ...any) { a.logf(slog.LevelDebug, format, v) }
func (a *slogAdapter) Tracef(format string, v ...any) { a.logf(slog.LevelDebug-4, format, v) }
