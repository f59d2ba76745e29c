// Package supervisor runs a process's named long-running parts together:
// when one fails or the context ends, all are stopped, and Run returns once
// every part has drained.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Runner is a long-running part. Run blocks until ctx is done or the part
// fails; on ctx's end it drains its in-flight work and returns nil.
type Runner interface {
	Run(ctx context.Context) error
}

// RunFunc adapts a function to Runner.
type RunFunc func(ctx context.Context) error

// Run calls f.
func (f RunFunc) Run(ctx context.Context) error { return f(ctx) }

// Supervisor runs named Runners.
type Supervisor struct {
	log     *slog.Logger
	names   []string
	runners []Runner
	// stopTimeout bounds the wait for the parts once stopping began; 0
	// waits for them all.
	stopTimeout time.Duration
}

// ErrStopTimeout is returned (joined with any part's error) by Run when
// parts were still running StopTimeout after the stop began.
var ErrStopTimeout = errors.New("parts still stopping at the deadline")

// SetStopTimeout bounds how long Run waits for the parts once it stops
// (its context ended or a part failed): past d it returns ErrStopTimeout,
// naming the parts still running, and leaves them to end on their own.
// Call before Run. Optional: default 0, wait for every part.
func (s *Supervisor) SetStopTimeout(d time.Duration) { s.stopTimeout = d }

// New returns an empty Supervisor that logs to log.
func New(log *slog.Logger) *Supervisor { return &Supervisor{log: log} }

// Add registers r under name; call before Run.
func (s *Supervisor) Add(name string, r Runner) {
	s.names = append(s.names, name)
	s.runners = append(s.runners, r)
}

// Run runs every Runner until ctx is done or one returns an error, then
// cancels the rest and waits for all (for at most the stop timeout, see
// SetStopTimeout). It returns the errors of the Runners that failed, each
// wrapped with its name.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		errs    []error
		running = map[string]int{}
		left    = len(s.runners)
		allDone = make(chan struct{})
	)
	if left == 0 {
		close(allDone)
	}
	for _, name := range s.names {
		running[name]++
	}
	for i, r := range s.runners {
		name := s.names[i]
		go func() {
			err := r.Run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("part failed, stopping", "part", name, "err", err)
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			} else {
				s.log.Debug("part stopped", "part", name)
			}
			if running[name]--; running[name] == 0 {
				delete(running, name)
			}
			if left--; left == 0 {
				close(allDone)
			}
			cancel()
		}()
	}
	select {
	case <-allDone:
	case <-ctx.Done():
		// The deadline counts from the stop, whether the context ended or
		// a part failed.
		if s.stopTimeout > 0 {
			t := time.NewTimer(s.stopTimeout)
			defer t.Stop()
			select {
			case <-allDone:
			case <-t.C:
				mu.Lock()
				defer mu.Unlock()
				names := slices.Sorted(maps.Keys(running))
				s.log.Warn("parts still stopping at the deadline, leaving them", "parts", names, "timeout", s.stopTimeout)
				return errors.Join(append(errs, fmt.Errorf("%w: %s", ErrStopTimeout, strings.Join(names, ", ")))...)
			}
		} else {
			<-allDone
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}
