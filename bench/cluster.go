package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/bulkcreate"
	"github.com/hookd/hookd/sealed"
	"github.com/hookd/hookd/topology"
)

// ClusterConfig configures `hookd bench --cluster N`: N `hookd serve`
// nodes forming one JetStream cluster on 127.0.0.1 (streams replicated 3
// times), each a child process, whose idle cost is measured with
// Endpoints endpoints, after a run with one endpoint as the baseline.
type ClusterConfig struct {
	// Binary is the hookd executable the nodes run. Required (the CLI
	// passes its own).
	Binary string
	// Nodes is how many nodes: 3 or 5. Optional: default 3.
	Nodes int
	// Endpoints is how many endpoints are created, like the one-node
	// bench's (filter on their own tenant value), one in HeldEvery with
	// max_in_flight set, so served by its own consumer when it has work.
	// Required: 1 to 100,000.
	Endpoints int
	// Idle is the measurement window, at least 1s. Optional: default 30s.
	Idle time.Duration
	// NoBaselines skips the run with one endpoint.
	NoBaselines bool
	// Logger receives progress. Optional: default discards.
	Logger *slog.Logger
}

// HeldEvery: endpoint i has max_in_flight when i mod HeldEvery is 0, and
// events go to every endpoint i with i mod (HeldEvery/2) = 0 before the
// measurement: half of them to held endpoints, whose consumers the
// server removes once idle, half to plain ones, served by the shards.
const HeldEvery = 100

func (c *ClusterConfig) setDefaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Idle == 0 {
		c.Idle = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports a configuration that cannot run; errors name the flag.
func (c ClusterConfig) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("bench: cluster: no hookd binary to start the nodes with")
	case c.Nodes != 0 && c.Nodes != 3 && c.Nodes != 5:
		return fmt.Errorf("--cluster must be 3 or 5 nodes, not %d", c.Nodes)
	case c.Endpoints < 1 || c.Endpoints > 100000:
		return fmt.Errorf("--endpoints must be from 1 to 100000, not %d", c.Endpoints)
	case c.Idle != 0 && c.Idle < time.Second:
		return fmt.Errorf("--idle must be at least 1s with --cluster, not %s", c.Idle)
	}
	return nil
}

// ClusterResult is what `hookd bench --cluster` measured: the baseline
// run (one endpoint) first, unless skipped, then the run with Endpoints.
type ClusterResult struct {
	Nodes    int          `json:"nodes"`
	Replicas int          `json:"replicas"`
	Runs     []ClusterRun `json:"runs"`
}

// ClusterRun is one cluster's measurement.
type ClusterRun struct {
	Endpoints     int `json:"endpoints"`
	HeldEndpoints int `json:"held_endpoints"`
	// CreateSeconds is how long POST /v1/endpoints/bulk took for all.
	CreateSeconds float64 `json:"create_seconds"`
	// EventsDelivered is how many endpoints got a delivery before the
	// measurement (EventsPublished events were needed: an event routed
	// before a router saw its endpoint is published again).
	EventsDelivered int `json:"endpoints_delivered"`
	EventsPublished int `json:"events_published"`
	// HeldConsumersPeak is the most consumers HOOKD_HELD had after the
	// deliveries, and HeldConsumersGoneSeconds how long after the last
	// delivery the server had removed them all.
	HeldConsumersPeak        int     `json:"held_consumers_peak"`
	HeldConsumersGoneSeconds float64 `json:"held_consumers_gone_seconds"`
	IdleSeconds              float64 `json:"idle_seconds"`
	// PerNode is each node's idle cost over the window, once the held
	// consumers are gone.
	PerNode []NodeIdle `json:"per_node"`
	// HeldPulled is each node's cost over a window right after the
	// deliveries, while workers still pull the held endpoints' consumers
	// (for the workers' IdleAfter), and HeldIdle over a window after that,
	// while the consumers still exist (each an R3 Raft group) but nobody
	// pulls them; HeldConsumersDuring of them were left at its end. Both
	// are skipped when the windows do not fit before the server removes
	// the consumers (Idle over 40s).
	HeldPulled          []NodeIdle `json:"held_pulled,omitempty"`
	HeldIdle            []NodeIdle `json:"held_idle,omitempty"`
	HeldConsumersDuring int        `json:"held_consumers_during,omitempty"`
}

// workerIdleAfter is how long a worker keeps pulling an endpoint's
// consumer after its last delivery: worker.Config.IdleAfter's default,
// which the nodes run with.
const workerIdleAfter = 30 * time.Second

// NodeIdle is one node process's (hookd and its embedded NATS server)
// idle cost: CPU over the window as a fraction of one core, and its
// largest resident set sampled during the window.
type NodeIdle struct {
	Name        string  `json:"name"`
	PID         int     `json:"pid"`
	CPUFraction float64 `json:"cpu_fraction"`
	RSSBytes    int64   `json:"rss_bytes"`
}

// RunCluster measures cfg's runs, each on a new cluster in a temporary
// directory that is removed afterwards.
func RunCluster(ctx context.Context, cfg ClusterConfig) (*ClusterResult, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &ClusterResult{Nodes: cfg.Nodes, Replicas: 3}
	counts := []int{cfg.Endpoints}
	if !cfg.NoBaselines {
		counts = []int{1, cfg.Endpoints}
	}
	for _, n := range counts {
		run, err := runCluster(ctx, cfg, n)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, *run)
	}
	return res, nil
}

// runCluster starts a cluster, creates n endpoints, has some of them
// deliver, waits for their consumers to go and measures the idle nodes.
func runCluster(ctx context.Context, cfg ClusterConfig, n int) (*ClusterRun, error) {
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	run := &ClusterRun{Endpoints: n, IdleSeconds: cfg.Idle.Seconds()}
	rcv := newPathCounter()
	srv, err := serveLocal(rcv)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	start := time.Now()
	items := make([]json.RawMessage, n)
	for i := range items {
		held := ""
		if i%HeldEvery == 0 {
			held = `,"max_in_flight":8`
			run.HeldEndpoints++
		}
		items[i] = json.RawMessage(fmt.Sprintf(`{"url":%q,"events":["bench.*"],"filter":"data.tenant == \"t-%d\"","name":"bench %d"%s}`,
			srv.url+"/e/"+strconv.Itoa(i), i, i, held))
	}
	send := bulkcreate.HTTPSend(http.DefaultClient, c.api, http.Header{"Authorization": {"Bearer " + c.key}})
	created, err := bulkcreate.Create(ctx, items, send, bulkcreate.Options{ChunkItems: 1000})
	if err != nil {
		return nil, fmt.Errorf("create endpoints: %w", err)
	}
	for _, r := range created {
		if !r.Created() {
			return nil, fmt.Errorf("create endpoints: item %d: %d %s %s: %s", r.Index, r.Status, r.Error.Code, r.Error.Field, r.Error.Message)
		}
	}
	run.CreateSeconds = time.Since(start).Seconds()
	cfg.Logger.Info("bench: endpoints created", "endpoints", n, "seconds", run.CreateSeconds)

	var targets []int
	for i := 0; i < n; i += HeldEvery / 2 {
		targets = append(targets, i)
	}
	if run.EventsPublished, err = c.deliverTo(ctx, rcv, targets); err != nil {
		return nil, err
	}
	run.EventsDelivered = len(targets)
	lastDelivery := time.Now()
	cfg.Logger.Info("bench: deliveries made", "endpoints", len(targets), "events", run.EventsPublished)
	// While the held endpoints' consumers live on: pulled, then not
	// pulled, if both windows end well before the server removes them.
	if cfg.Idle <= 40*time.Second {
		if run.HeldPulled, err = c.measureIdle(ctx, cfg.Idle); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(lastDelivery.Add(workerIdleAfter + 5*time.Second))): // until workers stop pulling
		}
		if run.HeldIdle, err = c.measureIdle(ctx, cfg.Idle); err != nil {
			return nil, err
		}
		if run.HeldConsumersDuring, err = c.heldConsumers(ctx); err != nil {
			return nil, err
		}
	}
	if run.HeldConsumersPeak, err = c.waitNoHeldConsumers(ctx); err != nil {
		return nil, err
	}
	run.HeldConsumersGoneSeconds = time.Since(lastDelivery).Seconds()
	cfg.Logger.Info("bench: held consumers gone; measuring", "after", time.Since(lastDelivery).Round(time.Second))
	if run.PerNode, err = c.measureIdle(ctx, cfg.Idle); err != nil {
		return nil, err
	}
	return run, nil
}

// benchCluster is a running cluster of `hookd serve` nodes.
type benchCluster struct {
	dir   string
	key   string
	api   string // node 1's API
	nodes []*node
	nc    *nats.Conn
	js    jetstream.JetStream
	names topology.Names
}

type node struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startCluster(ctx context.Context, cfg ClusterConfig) (*benchCluster, error) {
	dir, err := os.MkdirTemp("", "hookd-bench-cluster-")
	if err != nil {
		return nil, err
	}
	c := &benchCluster{dir: dir}
	if err := c.start(ctx, cfg); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// start starts the nodes, waits until each is healthy, and connects.
func (c *benchCluster) start(ctx context.Context, cfg ClusterConfig) error {
	dir := c.dir
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	c.key = "hk_bench_" + hex.EncodeToString(b)
	keyFile := filepath.Join(dir, "admin.key")
	if err := os.WriteFile(keyFile, []byte(c.key), 0o600); err != nil {
		return err
	}
	internalKey := filepath.Join(dir, "nats-internal.nk")
	seed, err := embedded.LoadOrCreateInternalKey(internalKey)
	if err != nil {
		return err
	}
	secretKey := filepath.Join(dir, "secret.key")
	if _, err := sealed.LoadOrCreateKey(secretKey); err != nil {
		return err
	}
	addrs, err := freeAddrs(3 * cfg.Nodes) // per node: HTTP, NATS clients, cluster
	if err != nil {
		return err
	}
	httpAddrs, natsAddrs, clusterAddrs := addrs[:cfg.Nodes], addrs[cfg.Nodes:2*cfg.Nodes], addrs[2*cfg.Nodes:]
	routes := "nats://" + strings.Join(clusterAddrs, ",nats://")
	for i := range cfg.Nodes {
		name := fmt.Sprintf("n%d", i+1)
		nd := &node{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
		f, err := os.Create(nd.log)
		if err != nil {
			return err
		}
		nd.cmd = exec.Command(cfg.Binary, "serve", "--data", filepath.Join(dir, name), "--http", httpAddrs[i],
			"--nats-listen", natsAddrs[i], "--server-name", name, "--cluster-name", "hookd-bench",
			"--cluster", clusterAddrs[i], "--routes", routes, "--replicas", "3",
			"--admin-key-file", keyFile, "--nats-internal-key-file", internalKey, "--secret-key-file", secretKey,
			"--allow-nets", "127.0.0.0/8", "--log-level", "warn")
		nd.cmd.Stdout, nd.cmd.Stderr = f, f
		err = nd.cmd.Start()
		f.Close()
		if err != nil {
			return fmt.Errorf("start node %s: %w", name, err)
		}
		go func() { _ = nd.cmd.Wait(); close(nd.done) }()
		c.nodes = append(c.nodes, nd)
	}
	for i, nd := range c.nodes {
		if err := nd.waitHealthy(ctx, "http://"+httpAddrs[i], 2*time.Minute); err != nil {
			return err
		}
	}
	c.api = "http://" + httpAddrs[0]
	cfg.Logger.Info("bench: cluster up", "nodes", cfg.Nodes, "dir", dir)
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return err
	}
	pub, _ := kp.PublicKey()
	// As hookd itself, to publish events and read the held stream.
	c.nc, err = nats.Connect("nats://"+strings.Join(natsAddrs, ",nats://"), nats.Nkey(pub, kp.Sign),
		nats.CustomInboxPrefix(embedded.InboxPrefix), nats.Name("hookd-bench"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to the cluster: %w", err)
	}
	c.js, err = jetstream.New(c.nc)
	return err
}

// waitHealthy waits until the node's API answers /healthz.
func (nd *node) waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-nd.done:
			return fmt.Errorf("node %s exited while starting:\n%s", nd.name, nd.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling a process starting up
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not healthy after %s:\n%s", nd.name, timeout, nd.logTail())
		}
	}
}

func (nd *node) logTail() string {
	b, _ := os.ReadFile(nd.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop sends every node SIGTERM, then SIGKILL to those still running after
// 30 s, and removes the cluster's directory.
func (c *benchCluster) stop() {
	if c.nc != nil {
		c.nc.Close()
	}
	for _, nd := range c.nodes {
		_ = nd.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, nd := range c.nodes {
		select {
		case <-nd.done:
		case <-time.After(30 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.done
		}
	}
	_ = os.RemoveAll(c.dir)
}

// deliverTo publishes an event for each target endpoint and waits until
// each has a delivery, publishing again for those without one after 10 s:
// a router that has not yet seen an endpoint routes its event past it.
// It returns how many events it published.
func (c *benchCluster) deliverTo(ctx context.Context, rcv *pathCounter, targets []int) (int, error) {
	published := 0
	missing := targets
	for round := 0; len(missing) > 0; round++ {
		if round == 6 {
			return published, fmt.Errorf("deliveries: %d of %d endpoints got nothing after %d events", len(missing), len(targets), published)
		}
		for _, i := range missing {
			data := appendEvent(nil, int64(i), i+1, time.Now().UnixNano(), "") // tenant t-<i>
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := c.js.Publish(pctx, c.names.EventSubject(EventType), data)
			cancel()
			if err != nil {
				return published, fmt.Errorf("publish: %w", err)
			}
			published++
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			missing = rcv.without(missing)
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return published, ctx.Err()
			case <-time.After(50 * time.Millisecond): // polling the receiver
			}
		}
	}
	return published, nil
}

// waitNoHeldConsumers waits until the server has removed every consumer
// of the held stream (ConsumerInactiveThreshold after workers stop
// pulling), and returns the most it saw.
func (c *benchCluster) waitNoHeldConsumers(ctx context.Context) (int, error) {
	limit := 2*topology.ConsumerInactiveThreshold + time.Minute
	deadline := time.Now().Add(limit)
	peak := 0
	for {
		n, err := c.heldConsumers(ctx)
		if err == nil {
			peak = max(peak, n)
			if n == 0 {
				return peak, nil
			}
		}
		if time.Now().After(deadline) {
			return peak, fmt.Errorf("the held stream still has consumers %s after the last delivery (last error %v)", limit, err)
		}
		select {
		case <-ctx.Done():
			return peak, ctx.Err()
		case <-time.After(time.Second): // polling the stream's state
		}
	}
}

// heldConsumers is how many consumers the held stream has.
func (c *benchCluster) heldConsumers(ctx context.Context) (int, error) {
	s, err := c.js.Stream(ctx, c.names.HeldStream())
	if err != nil {
		return 0, fmt.Errorf("bench: held stream: %w", err)
	}
	return s.CachedInfo().State.Consumers, nil
}

// measureIdle samples every node's CPU time and resident set over d.
func (c *benchCluster) measureIdle(ctx context.Context, d time.Duration) ([]NodeIdle, error) {
	out := make([]NodeIdle, len(c.nodes))
	cpu0 := make([]time.Duration, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = NodeIdle{Name: nd.name, PID: nd.cmd.Process.Pid}
		var err error
		if cpu0[i], err = procCPU(out[i].PID); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for {
		for i := range out {
			rss, err := procRSS(out[i].PID)
			if err != nil {
				return nil, err
			}
			out[i].RSSBytes = max(out[i].RSSBytes, rss)
		}
		if time.Since(t0) >= d {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(time.Second, d-time.Since(t0))): // the measurement window
		}
	}
	elapsed := time.Since(t0)
	for i := range out {
		cpu, err := procCPU(out[i].PID)
		if err != nil {
			return nil, err
		}
		out[i].CPUFraction = (cpu - cpu0[i]).Seconds() / elapsed.Seconds()
	}
	return out, nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every architecture Go supports (sysconf needs cgo).
const clockTicks = 100

// procCPU is a process's user and system CPU time so far, from
// /proc/<pid>/stat (fields 14 and 15).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: --cluster reads /proc (Linux): %w", err)
	}
	// The command name (field 2) may hold spaces: fields count from its ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procRSS is a process's resident set, from /proc/<pid>/status (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: --cluster reads /proc (Linux): %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: /proc/%d/status: VmRSS %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("bench: /proc/%d/status has no VmRSS", pid)
}

// freeAddrs returns n addresses free right now on 127.0.0.1.
func freeAddrs(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// pathCounter counts deliveries per path /e/<i>.
type pathCounter struct {
	mu  sync.Mutex
	got map[int]int
}

func newPathCounter() *pathCounter { return &pathCounter{got: map[int]int{}} }

func (p *pathCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/e/"))
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	p.mu.Lock()
	p.got[i]++
	p.mu.Unlock()
}

// without returns the endpoints of list that have no delivery yet.
func (p *pathCounter) without(list []int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, i := range list {
		if p.got[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

type server struct {
	url   string
	close func()
}

// serveLocal serves h on a free port of 127.0.0.1.
func serveLocal(h http.Handler) (server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return server{}, fmt.Errorf("receiver: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return server{url: "http://" + ln.Addr().String(), close: func() { _ = srv.Close() }}, nil
}

// WriteText writes a cluster result for people.
func (r *ClusterResult) WriteText(w io.Writer) error {
	lines := []string{fmt.Sprintf("hookd bench --cluster %d: %d `hookd serve` nodes on 127.0.0.1, R%d; each run a new cluster", r.Nodes, r.Nodes, r.Replicas)}
	for _, run := range r.Runs {
		lines = append(lines, "",
			fmt.Sprintf("endpoints %d (%d with max_in_flight): created in %.1f s; %d endpoints got a delivery (%d events); held consumers: peak %d, all gone %.0f s after the deliveries",
				run.Endpoints, run.HeldEndpoints, run.CreateSeconds, run.EventsDelivered, run.EventsPublished, run.HeldConsumersPeak, run.HeldConsumersGoneSeconds))
		if run.HeldIdle != nil {
			lines = append(lines, fmt.Sprintf("idle over %.0f s right after the deliveries, workers still pulling the held consumers, per node:", run.IdleSeconds))
			lines = append(lines, nodeLines(run.HeldPulled)...)
			lines = append(lines, fmt.Sprintf("idle over %.0f s once workers stopped pulling, %d held consumers left, per node:", run.IdleSeconds, run.HeldConsumersDuring))
			lines = append(lines, nodeLines(run.HeldIdle)...)
		}
		lines = append(lines, fmt.Sprintf("idle over %.0f s once the held consumers are gone, per node (hookd and its NATS server):", run.IdleSeconds))
		lines = append(lines, nodeLines(run.PerNode)...)
	}
	for _, line := range lines {
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func nodeLines(nodes []NodeIdle) []string {
	var out []string
	for _, nd := range nodes {
		out = append(out, fmt.Sprintf("  %-4s rss %7.1f MiB   cpu %5.2f%% of a core", nd.Name, float64(nd.RSSBytes)/(1<<20), nd.CPUFraction*100))
	}
	return out
}
