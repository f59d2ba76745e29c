// Package supervisor runs a process's named long-running parts together:
// when one fails or the context ends, all are stopped, and Run returns once
// every part has drained.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
}

// New returns an empty Supervisor that logs to log.
func New(log *slog.Logger) *Supervisor { return &Supervisor{log: log} }

// Add registers r under name; call before Run.
func (s *Supervisor) Add(name string, r Runner) {
	s.names = append(s.names, name)
	s.runners = append(s.runners, r)
}

// Run runs every Runner until ctx is done or one returns an error, then
// cancels the rest and waits for all. It returns the errors of the Runners
// that failed, each wrapped with its name.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, r := range s.runners {
		name := s.names[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("part failed, stopping", "part", name, "err", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			} else {
				s.log.Debug("part stopped", "part", name)
			}
			cancel()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
