package faults

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/hookd/hookd/embedded"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// hookdBinary builds cmd/hookd once per test run.
func hookdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookd-faults-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "hookd")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/hookd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// proc is one hookd process that can be killed and started again with the
// same arguments.
type proc struct {
	t    *testing.T
	name string
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *os.File
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	logPath := filepath.Join(p.t.TempDir(), p.name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(hookdBinary(p.t), p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	p.mu.Lock()
	p.cmd, p.log = cmd, f
	p.mu.Unlock()
}

// kill sends SIGKILL: no drain, no goodbye, like a crash or an OOM kill.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
	_ = p.log.Close()
}

// term sends SIGTERM and returns how long the process took to exit.
func (p *proc) term(bound time.Duration) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.cmd = nil
		_ = p.log.Close()
		return time.Since(start), err
	case <-time.After(bound):
		return time.Since(start), fmt.Errorf("%s still running %s after SIGTERM", p.name, bound)
	}
}

// logTail returns the end of the process's log, for failure messages.
func (p *proc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		return ""
	}
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freeAddrs returns n addresses free right now on 127.0.0.1.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// waitHealthy waits until an API answers /healthz.
func waitHealthy(t *testing.T, p *proc, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond) // polling a process starting up
	}
	t.Fatalf("%s not healthy after %s:\n%s", p.name, timeout, p.logTail())
}

func joinURLs(addrs []string, scheme string) string {
	var out []string
	for _, a := range addrs {
		out = append(out, scheme+a)
	}
	return strings.Join(out, ",")
}

// adminKeyFile writes the tests' admin key into dir for --admin-key-file.
func adminKeyFile(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "admin.key")
	if err := os.WriteFile(path, []byte(adminKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// internalKeyFile writes a new internal identity key, for every process of
// a test (`--nats-internal-key-file`), and returns it with the options that
// connect as it.
func internalKeyFile(t *testing.T, dir string) (string, []nats.Option) {
	t.Helper()
	path := filepath.Join(dir, "nats-internal.nk")
	seed, err := embedded.LoadOrCreateInternalKey(path)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return path, []nats.Option{nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(embedded.InboxPrefix)}
}
