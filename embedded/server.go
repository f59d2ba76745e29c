package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Config configures an embedded server.
type Config struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Listen is the host:port producers connect to, e.g. "127.0.0.1:4222".
	// Optional: empty accepts in-process connections only.
	Listen string
	// ServerName names the server. Optional: default "hookd".
	ServerName string
	// SyncAlways fsyncs every write before acknowledging it. Optional:
	// default false (JetStream syncs every 2 minutes).
	SyncAlways bool
	// ClusterName makes the server a node of a JetStream cluster of that
	// name. Optional: empty runs a single server. With it, ClusterListen
	// and Routes are required and ServerName must be unique in the cluster.
	ClusterName string
	// ClusterListen is where other nodes connect, e.g. "0.0.0.0:6222".
	ClusterListen string
	// Routes are the other nodes' (or every node's) cluster URLs, e.g.
	// "nats://n2:6222"; a node's own URL in the list is ignored.
	Routes []string
	// InternalKey is the seed of hookd's own identity on this server (an
	// nkey user seed, see NewInternalKey): Connect signs in with it, and
	// it may do everything. Every node of a cluster and every process
	// connecting with --nats needs the same one. Optional: default a new
	// one for this server's lifetime, which only Connect can use.
	InternalKey []byte
	// ProducerSubjects are the subjects producers may publish events to.
	// Optional: without them producers may publish nothing.
	ProducerSubjects ProducerSubjects
	// Security is who else may connect, TLS and route authentication.
	// Optional: the zero value lets clients without credentials publish
	// events and nothing else.
	Security Security
	// ReadyTimeout bounds start-up. Optional: default 30s.
	ReadyTimeout time.Duration
	// Logger receives the server's logs. Optional: default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ServerName == "" {
		c.ServerName = "hookd"
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot start.
func (c Config) Validate() error {
	if c.StoreDir == "" {
		return errors.New("embedded: StoreDir is required")
	}
	if c.Listen != "" {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			return fmt.Errorf("embedded: listen address %q: %w", c.Listen, err)
		}
	}
	if len(c.InternalKey) > 0 {
		if _, err := internalKeyPair(c.InternalKey); err != nil {
			return err
		}
	}
	if err := c.ProducerSubjects.validate(); err != nil {
		return err
	}
	if err := c.Security.validate(c.ClusterName != ""); err != nil {
		return err
	}
	if c.ClusterName == "" {
		if c.ClusterListen != "" || len(c.Routes) > 0 {
			return errors.New("embedded: a cluster address or routes need a cluster name")
		}
		return nil
	}
	if _, _, err := splitHostPort(c.ClusterListen); err != nil {
		return fmt.Errorf("embedded: cluster address %q: %w", c.ClusterListen, err)
	}
	if c.Listen == "" {
		// nats-server opens routes only once the client port listens: a
		// node without one would wait for its cluster forever.
		return errors.New("embedded: a cluster node needs a client listen address")
	}
	if len(c.Routes) == 0 {
		return errors.New("embedded: a cluster node needs routes to the other nodes")
	}
	for _, r := range c.Routes {
		if _, err := url.Parse(r); err != nil || !strings.HasPrefix(r, "nats://") {
			return fmt.Errorf("embedded: route %q is not a nats://host:port URL", r)
		}
	}
	return nil
}

// clusterOptions sets opts up as a cluster node.
func (c Config) clusterOptions(opts *server.Options) {
	host, port, _ := splitHostPort(c.ClusterListen)
	opts.Cluster = server.ClusterOpts{Name: c.ClusterName, Host: host, Port: port}
	for _, r := range c.Routes {
		if u, err := url.Parse(r); err == nil {
			opts.Routes = append(opts.Routes, u)
		}
	}
}

// Server is a running embedded nats-server.
type Server struct {
	// ns is the running nats-server: a new one after Restart.
	ns atomic.Pointer[server.Server]
	// cfg and opts are what it was started with, for Restart.
	cfg  Config
	opts *server.Options
	// mu orders Restart and the shutdown.
	mu sync.Mutex
	// unlock releases the data directory's lock.
	unlock func()
	// stopOnce starts the shutdown once; stopped is closed when it is done.
	stopOnce sync.Once
	stopped  chan struct{}
	// storeDir is the data directory; writeErrors is signalled when the
	// server logs a failed write (see Storage).
	storeDir    string
	writeErrors chan struct{}
	// stopping is set once a shutdown began: nothing is repaired then.
	stopping atomic.Bool
	// internal is hookd's identity on the server; auth decides who every
	// other client is (kept for Restart, which needs both again).
	internal nkeys.KeyPair
	auth     *authenticator
}

// Start starts a server and waits until it accepts connections. The caller
// must call Shutdown. It locks StoreDir first: a second server on the same
// directory, in this process or another, fails at once with
// ErrStoreDirLocked. An address it cannot listen on fails at once too,
// with a *ListenError.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		// Without NoSigs the server installs a signal handler that exits
		// the whole process on SIGINT, before hookd can drain.
		NoSigs:     true,
		DontListen: cfg.Listen == "",
	}
	if cfg.Listen != "" {
		host, port, _ := splitHostPort(cfg.Listen)
		if port == 0 {
			port = server.RANDOM_PORT // nats-server reads 0 as its default, 4222
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterName != "" {
		cfg.clusterOptions(opts)
	}
	internal, err := cfg.internalKeyPair()
	if err != nil {
		return nil, err
	}
	pub, _ := internal.PublicKey()
	auth := newAuthenticator(pub, cfg.ProducerSubjects, cfg.Security.Producers, !cfg.Security.NoAnonymous)
	opts.CustomClientAuthentication = auth
	// Nkeys sign a nonce the server sends; nats-server sends one only when
	// it knows of nkeys itself, which with a custom authenticator it does not.
	opts.AlwaysEnableNonce = true
	if err := cfg.Security.apply(opts); err != nil {
		return nil, err
	}
	unlock, err := lockStoreDir(cfg.StoreDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, opts: opts, unlock: unlock, internal: internal, auth: auth, stopped: make(chan struct{}), storeDir: cfg.StoreDir, writeErrors: make(chan struct{}, 1)}
	ns, err := s.start(opts.Clone())
	if err != nil {
		unlock()
		return nil, err
	}
	s.ns.Store(ns)
	// A Restart listens where this one does, also on ports chosen at
	// random.
	if a, ok := ns.Addr().(*net.TCPAddr); ok && !opts.DontListen {
		s.opts.Port = a.Port
	}
	if a := ns.ClusterAddr(); a != nil && opts.Cluster.Port != 0 {
		s.opts.Cluster.Port = a.Port
	}
	return s, nil
}

// start starts a nats-server with opts and waits until it accepts
// connections.
func (s *Server) start(opts *server.Options) (*server.Server, error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	hook := newFatalHook()
	ns.SetLoggerV2(&slogAdapter{log: s.cfg.Logger.With("component", "nats-server"), fatal: hook.fatal, writeErrors: s.writeErrors}, false, false, false)
	ns.Start()
	if err := s.auth.producersAccount(ns, s.cfg.ProducerSubjects); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	if err := waitReady(ns, s.cfg, hook); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	return ns, nil
}

// errStopping refuses a Restart once the shutdown began.
var errStopping = errors.New("embedded: the server is stopping")

// Restart stops the server and starts a new one on the same directory and
// addresses (the ports it listens on now, also where they were chosen at
// random), without releasing the directory's lock. Connections made with
// Connect reconnect to the new server by themselves, as do producers. It
// is how Storage repairs JetStream after a failed write: nats-server
// refuses a stream that failed a write until its store is reopened, and
// starting JetStream again inside a running server races with its API.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return errStopping
	}
	old := s.NATS()
	old.Shutdown()
	old.WaitForShutdown()
	ns, err := s.start(s.opts.Clone())
	if err != nil {
		// Nothing runs now: the next Restart tries again.
		return err
	}
	s.ns.Store(ns)
	return nil
}

func (c Config) internalKeyPair() (nkeys.KeyPair, error) {
	if len(c.InternalKey) == 0 {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("embedded: internal key: %w", err)
		}
		return kp, nil
	}
	return internalKeyPair(c.InternalKey)
}

// WaitJetStream waits until JetStream can be used: at once for a single
// server; for a cluster node, until it knows the cluster's meta leader and
// is current with it.
func (s *Server) WaitJetStream(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !s.NATS().JetStreamIsCurrent() && s.NATS().JetStreamIsClustered() {
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded: no JetStream cluster leader after %s: are the other nodes up and the routes right?", timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's cluster state
	}
	return nil
}

// ClusterPeers returns the cluster's peers as the meta leader sees them;
// nil on any other node.
func (s *Server) ClusterPeers() []string { return s.NATS().JetStreamClusterPeers() }

// Connect opens an in-process client connection to the server, as hookd's
// internal identity and with its inbox prefix (see InternalOptions). It
// follows the server through a Restart (the reconnect wait is short: no
// network).
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append(append([]nats.Option{nats.InProcessServer(inProcess{s}), nats.Name("hookd"), nats.ReconnectWait(100 * time.Millisecond)},
		s.InternalOptions()...), opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	return nc, nil
}

// InternalOptions sign a connection in as hookd's internal identity, with
// hookd's inbox prefix: for tools and tests that connect to ClientURL as
// hookd does (TLS options, when the port requires TLS, are the caller's).
func (s *Server) InternalOptions() []nats.Option {
	pub, _ := s.internal.PublicKey()
	return []nats.Option{nats.Nkey(pub, s.internal.Sign), nats.CustomInboxPrefix(InboxPrefix)}
}

// inProcess connects to whichever server runs now.
type inProcess struct{ s *Server }

func (p inProcess) InProcessConn() (net.Conn, error) { return p.s.NATS().InProcessConn() }

// ClientURL returns the URL producers use, or "" when not listening.
func (s *Server) ClientURL() string {
	ns := s.NATS()
	if ns.Addr() == nil {
		return ""
	}
	return ns.ClientURL()
}

// NATS returns the running server (a new one after Restart), for tests
// and advanced options.
func (s *Server) NATS() *server.Server { return s.ns.Load() }

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.ShutdownWithin(-1)
}

// ShutdownWithin stops the server and waits for at most d (forever when d
// is negative); it reports whether the server stopped in time. nats-server
// stops JetStream's consumers one after the other, about 10 ms each, so
// with thousands of endpoints a full stop takes minutes: past d the server
// goes on stopping in the background, and a process that exits then is
// like one that crashed after everything was written: every acknowledged
// message is in the stream files, consumer positions were written within
// 100 ms of their last change, and the next start rebuilds the indexes
// (an acknowledgement less than 100 ms old can be redelivered). The data
// directory stays locked until the server has stopped.
func (s *Server) ShutdownWithin(d time.Duration) bool {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		go func() {
			s.mu.Lock() // after a Restart under way
			defer s.mu.Unlock()
			ns := s.NATS()
			ns.Shutdown()
			ns.WaitForShutdown()
			s.unlock()
			close(s.stopped)
		}()
	})
	if d < 0 {
		<-s.stopped
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stopped:
		return true
	case <-t.C:
		return false
	}
}

// Stopped is closed once the server has stopped, after Shutdown or
// ShutdownWithin.
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", portStr)
	}
	return host, port, nil
}
