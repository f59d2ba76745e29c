package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStorageFull is wrapped by the *StorageError that Storage.Err returns
// while the data directory refuses writes.
var ErrStorageFull = errors.New("storage full")

// StorageError says why storage refuses writes.
type StorageError struct {
	// Dir is the data directory.
	Dir string
	// Free is the space left for it, in bytes; MinFree the space kept
	// free (StorageConfig.MinFree).
	Free, MinFree int64
	// WriteError is JetStream's own write failure (say "no space left on
	// device"), "" when only the free space is low. JetStream keeps
	// refusing a stream that failed a write until it is started again,
	// which Storage does once there is room.
	WriteError string
}

func (e *StorageError) Error() string {
	msg := fmt.Sprintf("storage full: %s free for %s, less than the %s kept free", bytesText(e.Free), e.Dir, bytesText(e.MinFree))
	if e.Free >= e.MinFree {
		msg = fmt.Sprintf("storage full: JetStream cannot write to %s", e.Dir)
	}
	if e.WriteError != "" {
		msg += " (" + e.WriteError + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrStorageFull) true.
func (e *StorageError) Unwrap() error { return ErrStorageFull }

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// StorageConfig configures Storage.
type StorageConfig struct {
	// MinFree is the free space kept on the data directory's filesystem:
	// below it, storage counts as full, so that new events are refused
	// while the events already accepted can still be routed, delivered
	// and logged. Optional: default 64 MiB; negative keeps none (full
	// means JetStream failed a write). A repair after a failed write waits
	// for at least 1 MiB free either way.
	MinFree int64
	// Interval is how often the free space is read. Optional: default 1s.
	// A JetStream write failure is noticed at once, whatever it is.
	Interval time.Duration
	// Logger receives the changes of state. Optional: default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultMinFree is StorageConfig.MinFree's default.
const DefaultMinFree = 64 << 20

// healthCheckEvery is how many intervals go by between JetStream health
// checks while all is well (a safety net: write failures are reported
// through the server's log at once).
const healthCheckEvery = 10

func (c *StorageConfig) setDefaults() {
	if c.MinFree == 0 {
		c.MinFree = DefaultMinFree
	}
	if c.MinFree < 0 {
		c.MinFree = 0
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration Storage cannot run with.
func (c StorageConfig) Validate() error {
	if c.Interval < 0 {
		return fmt.Errorf("embedded: storage check interval %s is negative", c.Interval)
	}
	return nil
}

// Storage watches the data directory of an embedded server: whether it
// has room and whether JetStream can write to it. nats-server, on a write
// that fails (a full disk: "no space left on device"), stops answering
// publishes to that stream, and goes on refusing it after space is freed,
// until JetStream is started again (single server), or turns JetStream
// off altogether (cluster node). Storage tells the rest of hookd at once
// (Err, Refused), and once there is room again it starts JetStream anew on
// the same directory, which reopens every stream: no restart of hookd.
type Storage struct {
	s   *Server
	cfg StorageConfig
	log *slog.Logger

	mu      sync.Mutex
	err     *StorageError
	refused chan struct{} // closed while refusing; a new one after

	// Run's goroutine owns these.
	lastRepair  time.Time
	unknownFree bool
}

// minRepairFree is the least free space a repair waits for, also when
// MinFree is lower: a server restarted onto a full disk fails again.
const minRepairFree = 1 << 20

// repairGap spaces repairs out, should the disk fill again at once.
const repairGap = 5 * time.Second

// Storage returns the server's storage watcher; Run runs it.
func (s *Server) Storage(cfg StorageConfig) (*Storage, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := &Storage{s: s, cfg: cfg, log: cfg.Logger.With("component", "storage"), refused: make(chan struct{})}
	return st, nil
}

// Err returns a *StorageError while storage refuses writes, nil when it
// takes them.
func (st *Storage) Err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil {
		return nil
	}
	return st.err
}

// Refused returns a channel closed once storage refuses writes: a write
// in flight then (a publish waiting for an acknowledgement that a broken
// stream will not send) can stop waiting. After a recovery it is a new
// channel.
func (st *Storage) Refused() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.refused
}

// Run checks the storage every Interval, and at once when the server
// logs a write failure, until ctx is done; it returns nil then.
func (st *Storage) Run(ctx context.Context) error {
	t := time.NewTicker(st.cfg.Interval)
	defer t.Stop()
	for tick := 0; ; tick++ {
		st.check(tick%healthCheckEvery == 0)
		select {
		case <-ctx.Done():
			return nil
		case <-st.s.writeErrors:
			// Let the other streams the failure hits fail too, then look
			// at all of them.
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
			st.check(true)
		case <-t.C:
		}
	}
}

// check reads the free space and, when asked or while refusing, JetStream's
// health; with room again, it repairs JetStream.
func (st *Storage) check(health bool) {
	free, err := freeSpace(st.s.storeDir)
	if err != nil {
		if !st.unknownFree {
			st.log.Warn("free space not read: storage counts as full only once JetStream fails a write", "dir", st.s.storeDir, "err", err)
			st.unknownFree = true
		}
		free = max(st.cfg.MinFree, minRepairFree) // unknown: decided by JetStream's health alone
	}
	st.mu.Lock()
	refusing := st.err != nil
	st.mu.Unlock()
	low := free < st.cfg.MinFree
	writeErr := ""
	if health || refusing || low {
		writeErr = st.jetStreamTrouble()
	}
	room := !low && free >= minRepairFree
	if writeErr != "" && room && !st.s.stopping.Load() && time.Since(st.lastRepair) >= repairGap {
		// Room again: JetStream reopens its streams when started anew.
		st.lastRepair = time.Now()
		st.repair(writeErr)
		writeErr = st.jetStreamTrouble()
	}
	if !low && writeErr == "" {
		st.set(nil)
		return
	}
	st.set(&StorageError{Dir: st.s.storeDir, Free: free, MinFree: st.cfg.MinFree, WriteError: writeErr})
}

// jetStreamTrouble returns why JetStream cannot write, "" when it can.
func (st *Storage) jetStreamTrouble() string {
	ns := st.s.NATS()
	if !ns.Running() {
		return "the NATS server is not running"
	}
	if !ns.JetStreamEnabled() {
		return "JetStream is off after a write failure"
	}
	h := ns.Healthz(&server.HealthzOptions{Details: true})
	var msgs []string
	for _, e := range h.Errors {
		if strings.Contains(e.Error, "write error") {
			msgs = append(msgs, e.Error)
		}
	}
	switch len(msgs) {
	case 0:
		return ""
	case 1:
		return msgs[0]
	}
	return fmt.Sprintf("%s, and %d more streams", msgs[0], len(msgs)-1)
}

// repair restarts the server on the same directory (Server.Restart):
// every stream is reopened, forgetting its write failure, and what was
// stored before it is recovered from disk. hookd's connections and
// producers reconnect by themselves. Stopping takes nats-server about
// 10 ms per endpoint (it stops consumers one by one).
func (st *Storage) repair(cause string) {
	st.log.Warn("JetStream could not write and there is room again: restarting the NATS server", "cause", cause)
	begin := time.Now()
	if err := st.s.Restart(); err != nil {
		st.log.Error("NATS server not restarted", "err", err)
		return
	}
	st.log.Warn("NATS server restarted", "took", time.Since(begin).Round(time.Millisecond))
}

// set records the state, logging and signalling a change.
func (st *Storage) set(err *StorageError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	was := st.err
	st.err = err
	switch {
	case was == nil && err != nil:
		close(st.refused)
		st.log.Error("storage refuses writes: new events are refused until there is room", "reason", err.Error())
	case was != nil && err == nil:
		st.refused = make(chan struct{})
		st.log.Warn("storage takes writes again", "dir", st.s.storeDir)
	case was != nil && err != nil && was.WriteError != err.WriteError:
		st.log.Error("storage refuses writes", "reason", err.Error())
	}
}
