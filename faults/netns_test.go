package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The partition tests' network: every hookd process runs in a network
// namespace of its own, attached by a veth pair to one bridge in the root
// namespace. The bridge has an address too (labHost), so the test process
// (receiver, publisher, API client) reaches every process, and every
// process reaches the receiver, whatever is cut between the processes.
// A cut between two processes is a blackhole route to the other's address
// inside each one's namespace: their packets to each other are dropped,
// silently for an established TCP connection (its retransmissions fail
// until it times out, as behind a dropping firewall), while everything
// else flows. Everything is on one layer-2 segment: no IP forwarding is
// needed, and the bridge does not hand its frames to iptables
// (nf_call_iptables 0), whatever the host's br_netfilter is set to.
const (
	// labPrefix names every namespace, link and the bridge of the suite,
	// so a run can remove what a killed earlier run left.
	labPrefix = "hkp-"
	labBridge = labPrefix + "br"
	// labNet is an address range unlikely to be used on a test machine.
	labNet  = "10.217.0.0/24"
	labHost = "10.217.0.1"
	// labLock serialises runs on one machine (two test binaries, two
	// worktrees): a second run waits for the first's namespaces to go.
	labLock = "hookd-partitions.lock"
)

// netLab is the namespaces of one partition test, named hkp-<name>, and
// the cuts between them.
type netLab struct {
	t    *testing.T
	ips  map[string]string // name -> address in labNet
	mu   sync.Mutex
	cuts map[[2]string]bool
}

// requireNetns skips the test where network namespaces cannot be made
// (not root, no `ip`, no namespace support), unless HOOKD_REQUIRE_NETNS=1
// says this machine must run them (CI): then it fails.
func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process partition test: -short")
	}
	if os.Getenv("HOOKD_PARTITIONS") != "1" {
		// Opt-in for now: under CI's load (every package's tests at once)
		// some targets are still missed (RELIABILITY.md, "Partitions").
		t.Skip("partition suite is opt-in until its targets hold under CI's load: HOOKD_PARTITIONS=1 runs it (RELIABILITY.md, \"Partitions\")")
	}
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "no `ip` command (Debian: apt-get install iproute2)"
	} else if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		why = fmt.Sprintf("`ip netns list`: %v: %s", err, bytes.TrimSpace(out))
	}
	if why == "" {
		return
	}
	if os.Getenv("HOOKD_REQUIRE_NETNS") == "1" {
		t.Fatalf("partition tests need network namespaces (HOOKD_REQUIRE_NETNS=1): %s", why)
	}
	t.Skipf("partition tests need network namespaces, as root on Linux: %s (HOOKD_REQUIRE_NETNS=1 makes this a failure)", why)
}

// newNetLab makes a namespace per name, addresses 10.217.0.11 and up in
// order, and removes them all when the test ends.
func newNetLab(t *testing.T, names ...string) *netLab {
	t.Helper()
	requireNetns(t)
	lockDir := "/run/lock"
	if _, err := os.Stat(lockDir); err != nil {
		lockDir = os.TempDir()
	}
	lock, err := os.OpenFile(filepath.Join(lockDir, labLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("partition lab lock: %v", err)
	}
	// Blocks while another run uses the lab; released by the kernel if
	// this process dies.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("partition lab lock: %v", err)
	}
	lab := &netLab{t: t, ips: map[string]string{}, cuts: map[[2]string]bool{}}
	t.Cleanup(func() {
		lab.remove()
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
	lab.remove() // what a killed run left
	if out := lab.ip("-4", "route", "show", labNet); strings.TrimSpace(out) != "" {
		t.Fatalf("%s is in use on this machine (%s): the partition tests need it", labNet, strings.TrimSpace(out))
	}
	lab.ip("link", "add", labBridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0")
	lab.ip("addr", "add", labHost+"/24", "dev", labBridge)
	lab.ip("link", "set", labBridge, "up")
	for i, name := range names {
		ns, addr := labPrefix+name, fmt.Sprintf("10.217.0.%d", 11+i)
		lab.ip("netns", "add", ns)
		lab.ip("link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns)
		lab.ip("link", "set", ns, "master", labBridge, "up")
		lab.ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		lab.ip("-n", ns, "link", "set", "eth0", "up")
		lab.ip("-n", ns, "link", "set", "lo", "up")
		lab.ips[name] = addr
	}
	return lab
}

// nameOf returns the name of the namespace with address addr, or addr.
func (l *netLab) nameOf(addr string) string {
	for name, a := range l.ips {
		if a == addr {
			return name
		}
	}
	return addr
}

// ip runs `ip args...` and fails the test on an error.
func (l *netLab) ip(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out)
}

// remove deletes every namespace and link of the suite; deleting a
// namespace deletes its veth pair.
func (l *netLab) remove() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], labPrefix) {
			_ = exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, labPrefix) {
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
}

// cut drops the traffic between a and b, both ways.
func (l *netLab) cut(a, b string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{min(a, b), max(a, b)}
	if l.cuts[key] {
		return
	}
	l.ip("-n", labPrefix+a, "route", "add", "blackhole", l.ips[b]+"/32")
	l.ip("-n", labPrefix+b, "route", "add", "blackhole", l.ips[a]+"/32")
	l.cuts[key] = true
}

// isolate cuts a from each of others.
func (l *netLab) isolate(a string, others ...string) {
	for _, b := range others {
		l.cut(a, b)
	}
}

// healAll removes every cut.
func (l *netLab) healAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key := range l.cuts {
		a, b := key[0], key[1]
		l.ip("-n", labPrefix+a, "route", "del", "blackhole", l.ips[b]+"/32")
		l.ip("-n", labPrefix+b, "route", "del", "blackhole", l.ips[a]+"/32")
		delete(l.cuts, key)
	}
}

// nsProc is a hookd process in a namespace of the lab, that can be killed
// and started again with the same arguments; unlike proc it notices when
// the process exits on its own.
type nsProc struct {
	t      *testing.T
	name   string
	ns     string
	args   []string
	dir    string // its logs, one file per start: the test's temporary directory, or $HOOKD_PARTITION_LOGS/<test>
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status, once exited is closed
	logs   []string
}

func startNSProc(t *testing.T, lab *netLab, ns, name string, args ...string) *nsProc {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv("HOOKD_PARTITION_LOGS"); keep != "" {
		// Logs to keep after the test, for a closer look.
		dir = filepath.Join(keep, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &nsProc{t: t, name: name, ns: labPrefix + ns, args: args, dir: dir}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *nsProc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	path := filepath.Join(p.dir, fmt.Sprintf("%s.%d.log", p.name, len(p.logs)+1))
	f, err := os.Create(path)
	if err != nil {
		p.t.Fatal(err)
	}
	// `ip netns exec` enters the namespace and execs the command: the
	// child is hookd itself, and a signal to it reaches hookd.
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.ns, hookdBinary(p.t)}, p.args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	p.cmd, p.exited, p.logs = cmd, exited, append(p.logs, path)
}

// kill sends SIGKILL and waits for the process to end.
func (p *nsProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// running reports whether the last start is still running, and if not how
// it ended.
func (p *nsProc) running() (bool, string) {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return false, fmt.Sprint(p.err)
	default:
		return true, ""
	}
}

// logLines returns up to n of the last lines, over every start, that
// hold one of the words (all lines when none), each with its file.
func (p *nsProc) logLines(n int, words ...string) []string {
	p.mu.Lock()
	logs := append([]string(nil), p.logs...)
	p.mu.Unlock()
	var out []string
	for i, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			keep := len(words) == 0
			for _, w := range words {
				keep = keep || strings.Contains(line, w)
			}
			if keep {
				out = append(out, fmt.Sprintf("%s#%d: %s", p.name, i+1, line))
			}
		}
		f.Close()
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// waitFor polls cond every interval until it holds or timeout passes, and
// returns how long it took and whether it held.
func waitFor(timeout, interval time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(interval) // polling the condition
	}
}
